"""Feature augmentation operators' statistics and the stop-gradient."""

import pytest
import torch

from ssl_lib.models.feature_aug import FeatureAugmenter


def test_noise_scale_is_strength_times_feature_std():
    torch.manual_seed(0)
    z = torch.randn(4000, 16) * torch.linspace(0.5, 3, 16)
    fa = FeatureAugmenter("noise", 16, strength=0.2)
    delta = fa(z) - z
    assert torch.allclose(delta.std(dim=0), 0.2 * z.std(dim=0), rtol=0.08)
    assert delta.mean().abs() < 0.02


def test_dropout_rate_and_rescaling():
    torch.manual_seed(0)
    z = torch.ones(2000, 64)
    out = FeatureAugmenter("dropout", 64, strength=0.3)(z)
    assert abs((out == 0).float().mean().item() - 0.3) < 0.01
    assert torch.allclose(out[out != 0], torch.full_like(out[out != 0], 1 / 0.7))


def test_mix_weights_lie_in_range_and_partners_are_other_samples():
    torch.manual_seed(0)
    n = 500
    z = torch.eye(n)  # one-hot rows: the mix weight and the partner can be read off the output
    out = FeatureAugmenter("mix", n, strength=0.25)(z)
    lam = out.diagonal()
    assert lam.min() >= 0.75 and lam.max() <= 1.0 and lam.std() > 0.05
    partner_weight = out.clone().fill_diagonal_(0).sum(dim=1)
    assert torch.allclose(partner_weight, 1 - lam, atol=1e-6)


def test_generator_starts_as_identity_and_is_trainable():
    fa = FeatureAugmenter("generator", 8)
    z = torch.randn(4, 8)
    assert torch.equal(fa(z), z)
    assert sum(p.numel() for p in fa.parameters() if p.requires_grad) > 0


@pytest.mark.parametrize("stop_grad", [True, False])
def test_stop_gradient_blocks_the_gradient(stop_grad):
    fa = FeatureAugmenter("noise", 8, stop_grad=stop_grad)
    z = torch.randn(16, 8, requires_grad=True)
    # d/dz of z.sum() is 1; the FA path adds 2 * FA(z) only when the gradient flows through it
    ((fa(fa.source(z)) ** 2).sum() + z.sum()).backward()
    assert torch.equal(z.grad, torch.ones_like(z)) == stop_grad


def test_bad_settings():
    with pytest.raises(ValueError, match="unknown feature augmentation operator 'cutout'"):
        FeatureAugmenter("cutout", 8)
    with pytest.raises(ValueError, match="arrangement"):
        FeatureAugmenter("noise", 8, arrangement="serial")
    with pytest.raises(ValueError, match="strength"):
        FeatureAugmenter("dropout", 8, strength=1.5)


def test_feature_aug_settings_check_themselves_and_come_from_the_flat_config_fields():
    from ssl_lib.models.config import ModelConfig
    from ssl_lib.models.feature_aug import FeatureAugSettings

    with pytest.raises(ValueError, match="must lie in \\[0, 1\\)"):
        FeatureAugSettings("dropout", strength=1.5)
    with pytest.raises(ValueError, match="feature_aug: .*\\[0, 1\\)"):  # the config names its field
        ModelConfig(feature_aug="dropout", fa_strength=1.5).validate()
    assert ModelConfig().feature_aug_settings() is None
    settings = ModelConfig(feature_aug="noise", fa_stop_grad=False, fa_weight=0.5).feature_aug_settings()
    assert settings == FeatureAugSettings("noise", None, False, "parallel", 0.5)
    assert settings.factory()(8).stop_grad is False
