"""The trainable model: backbones, SSL methods and losses, and the papers' components.

    backbones     torchvision ResNets and a small CNN, with per-stage features
    losses        NT-Xent, InfoNCE, negative cosine, Barlow Twins, VICReg
    heads         the MLP builder and the plain projector
    methods       SimCLR, MoCo v2, BYOL, SimSiam, Barlow Twins, VICReg
    cassle        the projector conditioned on augmentation parameters (a projector factory)
    feature_aug   feature-space augmentation and how each method uses it (a constructor argument)
    augself       heads predicting the difference of augmentation parameters (wraps a method)
    config        ModelConfig: the fields that define a model
    compose       SSLModel and build_model(ModelConfig)
"""
