"""Helpers every layer uses: atomic file writes (`io`), argument checks (`checks`), one-line
command-line errors (`cli`) and the torch.distributed wrappers that are no-ops in a single
process (`distributed`)."""
