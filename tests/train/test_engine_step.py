"""The training step without host syncs: one graph under torch.compile(fullgraph=True), its
backward through AOTAutograd, equal to the eager step; on CUDA no sync at all (skipped on CPU)."""

import pytest
import torch

from ssl_lib.data import make_synthetic
from ssl_lib.train.config import TrainConfig
from ssl_lib.train.engine import TrainStep, build_model, view_pipelines

SMALL = dict(backbone="small_cnn", backbone_width=8, batch_size=16, proj_hidden=64, proj_dim=32, pred_hidden=32,
             queue_size=64, image_size=32)

# Every method once, and every pluggable component (AugSelf with all its groups, each CASSLE
# injection, feature augmentation in both arrangements) in at least one of them.
CONFIGS = {
    "simclr + augself": dict(method="simclr", recipe="simclr", augself="crop,color,flip,blur"),
    "mocov2 + cassle concat": dict(method="mocov2", recipe="mocov2", cassle=True),
    "byol + fa parallel + augself": dict(method="byol", recipe="byol", feature_aug="noise",
                                         fa_arrangement="parallel", augself="crop,color,solarize"),
    "simsiam + cassle add": dict(method="simsiam", recipe="mocov2", cassle=True, cassle_injection="add"),
    "barlow_twins + fa mix": dict(method="barlow_twins", recipe="byol", feature_aug="mix"),
    "vicreg + cassle hyper": dict(method="vicreg", recipe="byol", cassle=True, cassle_injection="hyper"),
    "simclr + cassle mul": dict(method="simclr", recipe="simclr", cassle=True, cassle_injection="mul"),
}


def _step_inputs(cfg: TrainConfig, device="cpu"):
    pipelines = view_pipelines(cfg)
    images, _ = make_synthetic(cfg.batch_size, cfg.image_size, seed=0, device=device, dtype=torch.uint8)
    generator = torch.Generator(device=device).manual_seed(0)
    params = [p.sample(cfg.batch_size, images.shape[-2:], device, generator) for p in pipelines]
    return pipelines, images, params


def _grads(model) -> dict:
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_step_compiles_to_one_graph_with_its_backward_and_equals_the_eager_step(name):
    cfg = TrainConfig(**SMALL, **CONFIGS[name]).validate()
    torch.manual_seed(0)
    eager_model, compiled_model = build_model(cfg), build_model(cfg)
    compiled_model.load_state_dict(eager_model.state_dict())
    pipelines, images, (params1, params2) = _step_inputs(cfg)

    torch._dynamo.reset()
    # fullgraph=True turns any graph break into an error; aot_eager traces the backward through
    # AOTAutograd as inductor would, without its code generation (seconds instead of a minute).
    compiled = torch.compile(TrainStep(compiled_model, pipelines), fullgraph=True, backend="aot_eager")
    torch.manual_seed(1)  # feature augmentation draws its noise from the global stream
    out_compiled = compiled(images, params1, params2)
    out_compiled.loss.backward()
    torch.manual_seed(1)
    out_eager = TrainStep(eager_model, pipelines)(images, params1, params2)
    out_eager.loss.backward()

    torch.testing.assert_close(out_compiled.loss, out_eager.loss, rtol=1e-4, atol=1e-5)
    grads_c, grads_e = _grads(compiled_model), _grads(eager_model)
    assert grads_c.keys() == grads_e.keys() and grads_c
    for key in grads_e:
        torch.testing.assert_close(grads_c[key], grads_e[key], rtol=1e-3, atol=1e-4, msg=key)


def test_a_graph_break_in_the_step_fails_the_fullgraph_compile(monkeypatch):
    """The check above can fail: a host sync inside the step (what the engine used to do per
    step) is refused under fullgraph=True."""
    import ssl_lib.augment.pipeline as pipeline_module

    cfg = TrainConfig(**SMALL, method="simclr").validate()
    pipelines, images, (params1, params2) = _step_inputs(cfg)
    original = pipeline_module.AugmentPipeline.apply

    def apply_with_sync(self, images, params):
        if params.solarize.any():  # data-dependent Python branch: a host sync
            images = images * 1.0
        return original(self, images, params)

    monkeypatch.setattr(pipeline_module.AugmentPipeline, "apply", apply_with_sync)
    torch._dynamo.reset()
    compiled = torch.compile(TrainStep(build_model(cfg), pipelines), fullgraph=True, backend="aot_eager")
    with pytest.raises(Exception, match="(?i)data-dependent|graph break|unsupported"):
        compiled(images, params1, params2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["simclr + augself", "mocov2 + cassle concat"])
def test_cuda_training_steps_never_sync_with_the_host(name, tmp_path):
    from ssl_lib.train.optim import build_optimizer

    cfg = TrainConfig(**SMALL, **CONFIGS[name], device="cuda").validate()
    model = build_model(cfg).cuda()
    optimizer = build_optimizer(cfg.optimizer, model, 0.01, cfg.weight_decay, cfg.sgd_momentum)
    pipelines, images, _ = _step_inputs(cfg, "cuda")
    step = TrainStep(model, pipelines, torch.bfloat16)
    generator = torch.Generator(device="cuda").manual_seed(0)
    first_bad = torch.full((), -1, device="cuda")
    for i in range(3):
        if i == 1:  # after the first step: lazy CUDA initialisation may sync once
            torch.cuda.set_sync_debug_mode("error")
        try:
            params = [p.sample(cfg.batch_size, images.shape[-2:], "cuda", generator) for p in pipelines]
            loss = step(images, *params).loss.float()
            first_bad = torch.where(~torch.isfinite(loss) & (first_bad < 0), i, first_bad)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            model.update_target(i / 3)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert first_bad.item() == -1
