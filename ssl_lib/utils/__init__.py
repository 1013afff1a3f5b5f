"""Helpers every layer uses: atomic file writes (`io`), argument checks (`checks`) and the
torch.distributed wrappers that are no-ops in a single process (`distributed`)."""
