"""ssl_lib: augmentation-aware self-supervised learning, compact and tested.

Modules, in the order the notebooks use them:

    augment        batched augmentations that record per-sample parameters (AugParams),
                   CASSLE's descriptor and AugSelf's targets
    data           the synthetic dataset, viewpoint / lighting groups, real dataset loaders
    backbones      torchvision ResNets and a small CNN, with per-stage features
    losses         NT-Xent, InfoNCE, negative cosine, Barlow Twins, VICReg
    methods        SimCLR, MoCo v2, BYOL, SimSiam, Barlow Twins, VICReg
    augself, cassle, feature_aug   the papers' augmentation-aware components
    model          a method composed with those components from a TrainConfig
    config, train, pretrain        the run's settings, the engine (one process or DDP), the CLI
    evaluate, invariance, sensitivity, fusion, transfer   the instruments
    profiles, experiments, runs, reproduce, report        the notebooks' machinery
"""
