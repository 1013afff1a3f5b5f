"""Feature extractors: torchvision ResNets (ImageNet or CIFAR stem) and a small CNN for CPUs.

Every backbone maps float images (B, 3, H, W) to pooled features (B, feature_dim) and exposes
its stages, so evaluation can read features after each block (CASSLE's per-block sensitivity).
"""

from __future__ import annotations

import torchvision
from torch import Tensor, nn

BACKBONES = ("resnet18", "resnet50", "small_cnn")


class Backbone(nn.Module):
    """A stem followed by named stages; features are the global average pool of the last stage.

    Attributes:
        feature_dim: width D of the pooled features.
        stage_names: names of the stages, in order (for `forward_stages`).
    """

    def __init__(self, stem: nn.Module, stages: list[tuple[str, nn.Module]], feature_dim: int):
        super().__init__()
        self.stem = stem
        self.stages = nn.ModuleDict(stages)
        self.feature_dim = feature_dim

    @property
    def stage_names(self) -> list[str]:
        return list(self.stages.keys())

    def forward(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) -> pooled features (B, feature_dim)."""
        x = self.stem(images)
        for stage in self.stages.values():
            x = stage(x)
        return x.mean(dim=(2, 3))

    def forward_stages(self, images: Tensor, pooled: bool = True) -> dict[str, Tensor]:
        """Features after every stage: {name: (B, C_stage)} globally pooled, or with
        ``pooled=False`` the whole feature map flattened, {name: (B, C_stage * H_stage * W_stage)}."""
        x = self.stem(images)
        out = {}
        for name, stage in self.stages.items():
            x = stage(x)
            out[name] = x.mean(dim=(2, 3)) if pooled else x.flatten(1)
        return out


def _resnet(name: str, cifar_stem: bool) -> Backbone:
    net = getattr(torchvision.models, name)(weights=None)
    if cifar_stem:
        # 32-96 px images: a 3x3 stride-1 stem and no max-pool keep enough resolution (SimCLR's CIFAR variant).
        stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), net.bn1, net.relu)
    else:
        stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
    stages = [(f"layer{i}", getattr(net, f"layer{i}")) for i in range(1, 5)]
    return Backbone(stem, stages, net.fc.in_features)


def _conv_bn_relu(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def small_cnn(width: int = 32) -> Backbone:
    """A 4-stage CNN (widths w, 2w, 4w, 8w; stride 2 from the second stage) for CPU runs.

    About 24 M multiply-adds per 32 px image at width 32, 1/23 of a CIFAR ResNet-18 (0.56 G).
    """
    widths = [width, 2 * width, 4 * width, 8 * width]
    stem = _conv_bn_relu(3, widths[0], 1)
    stages = [("block1", _conv_bn_relu(widths[0], widths[0], 1))]
    stages += [(f"block{i + 1}", _conv_bn_relu(widths[i - 1], widths[i], 2)) for i in range(1, 4)]
    return Backbone(stem, stages, widths[-1])


def make_backbone(name: str, cifar_stem: bool = True, width: int = 32) -> Backbone:
    """Build a backbone by name: "resnet18", "resnet50" (torchvision, random init) or "small_cnn".

    Args:
        cifar_stem: ResNets only; True for 32-96 px inputs (3x3 stride-1 stem, no max-pool),
            False for the ImageNet stem (224 px).
        width: small_cnn only; channels of its first stage.
    """
    if name in ("resnet18", "resnet50"):
        return _resnet(name, cifar_stem)
    if name == "small_cnn":
        return small_cnn(width)
    raise ValueError(f"unknown backbone {name!r}; known backbones: {list(BACKBONES)}")
