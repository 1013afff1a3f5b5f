"""ssl_lib: augmentation-aware self-supervised learning, compact and tested.

Sub-packages are the layers, in the order data flows through them (imports point down only):

    augment      batched augmentations that record per-sample parameters (AugParams), CASSLE's
                 descriptor and AugSelf's targets; one registry of ops (augment/ops.py)
    data         the synthetic dataset, viewpoint / lighting groups, real dataset loaders
    models       backbones, losses, the six SSL methods and the papers' components (CASSLE's
                 conditioned projector, feature augmentation, AugSelf's heads), composed by
                 build_model(ModelConfig)
    train        TrainConfig, the engine (one process or torchrun DDP), the run folder, the CLI
    evaluation   frozen features, probes, kNN, few-shot, invariance, sensitivity, fusion, transfer
    lab          the reproduction machinery: profiles, named experiments, shared runs, recorded
                 results, validity, verdicts, the papermill runner, the report
    teaching     the notebooks' teaching aids: each paper's mechanism on one batch, the
                 augmentation explorer, figures
    utils        atomic writes, argument checks, torch.distributed wrappers

Commands: ``python -m ssl_lib.pretrain`` (train one model), ``python -m ssl_lib.reproduce``
(run the notebooks of a profile) and ``python -m ssl_lib.fetch`` (download real datasets).
What each paper computes: docs/papers.md.
"""
