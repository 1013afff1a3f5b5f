"""The teaching aids of the notebooks: each paper's mechanism on one batch, the augmentation
explorer and the figures. Every function spells a computation out so that a notebook can print it
next to what the library computes (the reproduction machinery is `ssl_lib.lab`).

    one_batch     a batch of views through a model (what the modules below start from)
    contrastive   SimCLR's NT-Xent written out (notebook 03)
    ericsson      the whitened cosine, step by step (notebook 02)
    augself       AugSelf's targets, heads and losses (notebook 04)
    cassle        the conditioned projector with matched and borrowed descriptors (notebook 05)
    feature_aug   feature augmentation's operators and its stop-gradient (notebook 06)
    explorer      the widget-driven augmentation explorer (notebook 01)
    figures       plotly helpers shared by the notebooks
"""
