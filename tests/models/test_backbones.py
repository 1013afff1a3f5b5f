"""Backbones: output shapes, feature widths, stage features, stems."""

import pytest
import torch

from ssl_lib.models.backbones import make_backbone


@pytest.mark.parametrize("name, dim", [("small_cnn", 256), ("resnet18", 512), ("resnet50", 2048)])
def test_pooled_features_have_the_reported_width(name, dim):
    net = make_backbone(name).eval()
    with torch.no_grad():
        features = net(torch.rand(2, 3, 32, 32))
    assert net.feature_dim == dim and features.shape == (2, dim)


def test_stage_features_end_with_the_pooled_features():
    net = make_backbone("resnet18").eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        stages = net.forward_stages(x)
        assert list(stages) == ["layer1", "layer2", "layer3", "layer4"] == net.stage_names
        assert [v.shape[1] for v in stages.values()] == [64, 128, 256, 512]
        assert torch.allclose(stages["layer4"], net(x))


def test_cifar_stem_keeps_resolution_and_imagenet_stem_downsamples():
    cifar, imagenet = make_backbone("resnet18", cifar_stem=True), make_backbone("resnet18", cifar_stem=False)
    x = torch.rand(1, 3, 64, 64)
    assert cifar.stem(x).shape[-1] == 64 and imagenet.stem(x).shape[-1] == 16


def test_small_cnn_multiply_adds():
    """Count the convolutions' multiply-adds with hooks: the docstring's cost claim."""
    net = make_backbone("small_cnn")
    macs = []
    hook = lambda m, i, o: macs.append(o.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups)
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(hook)
    net(torch.rand(1, 3, 32, 32))
    assert 20e6 < sum(macs) < 30e6


def test_unknown_backbone():
    with pytest.raises(ValueError, match="unknown backbone 'vit'"):
        make_backbone("vit")
