"""One small batch through a model: what every paper's mechanism in this package starts from.

    example_batch   a few synthetic scenes and two random views of each (+ their parameters)
    project_views   backbone features and projections of both views (no gradient)
    model_output    the model's forward pass on the batch (no gradient)
    model_losses    the model's own loss terms on the batch, as floats
    kept_as_is      run a module in train or eval mode and give back its mode and buffers
    seeded          the global RNG fixed inside a block and restored after it

Shapes: B images, 2B views; C backbone feature width; D projection width.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ssl_lib.augment import AugParams, recipe
from ssl_lib.data import make_synthetic


@contextmanager
def seeded(seed: int | None, device):
    """Global torch RNG fixed to ``seed`` inside the block and restored after it (no-op for None)."""
    if seed is None:
        yield
        return
    device = torch.device(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


@dataclass
class Batch:
    """B clean images (B, 3, H, W) in [0, 1], two views of each (B, 3, H, W) and the views'
    parameters (`AugParams`, B rows each)."""

    images: Tensor
    views1: Tensor
    views2: Tensor
    params1: AugParams
    params2: AugParams


def example_batch(size: int, n: int = 8, recipe_name: str = "simclr", seed: int = 0, device="cpu") -> Batch:
    """``n`` held-out synthetic scenes of side ``size`` (test split, ``seed``) and two views of
    each drawn with `ssl_lib.augment.recipe` ``recipe_name`` (a generator seeded with ``seed``)."""
    images, _ = make_synthetic(n, size, seed=seed, split="test", device=device)
    pipeline = recipe(recipe_name, size)
    generator = torch.Generator(device=device).manual_seed(seed)
    views1, params1 = pipeline(images, generator)
    views2, params2 = pipeline(images, generator)
    return Batch(images, views1, views2, params1, params2)


@contextmanager
def kept_as_is(module: nn.Module, training: bool):
    """Run ``module`` in train (``training``) or eval mode inside the block, then give it back its
    mode and its buffers (BatchNorm running statistics a train-mode pass would update)."""
    was_training = module.training
    buffers = {name: buffer.clone() for name, buffer in module.named_buffers()}
    module.train(training)
    try:
        yield module
    finally:
        module.train(was_training)
        with torch.no_grad():
            for name, buffer in module.named_buffers():
                buffer.copy_(buffers[name])


@torch.no_grad()
def project_views(model: nn.Module, batch: Batch, training: bool = True) -> dict[str, Tensor]:
    """Backbone features y1, y2 (B, C) and projections z1, z2 (B, D) of both views, as the
    model's method computes them in its forward pass (one backbone call for both views; a CASSLE
    projector gets each view's parameters).

    ``model`` is an `SSLModel`. With ``training`` (the default) BatchNorm normalises with the
    batch's statistics, as in a training step (in eval mode an untrained network's running
    statistics leave every projection pointing the same way); the model's mode and running
    statistics are left as they were.
    """
    method = model.method
    with kept_as_is(model, training):
        y1, y2 = method.encode(batch.views1, batch.views2)
        z1, z2 = method.project(y1, y2, batch.params1, batch.params2)
    return dict(y1=y1, y2=y2, z1=z1, z2=z2)


@torch.no_grad()
def model_output(model: nn.Module, batch: Batch, training: bool = True):
    """The model's forward pass on the batch (an `ssl_lib.models.compose.ModelOutput`), with no
    gradient; mode and running statistics kept as `project_views` keeps them."""
    with kept_as_is(model, training):
        return model(batch.views1, batch.views2, batch.params1, batch.params2)


def model_losses(model: nn.Module, batch: Batch, training: bool = True) -> dict[str, float]:
    """The scalar terms of the model's forward pass on the batch, as floats: ``loss`` and the
    terms a run logs (``ssl_loss``, ``augself_<group>``; `ModelOutput.terms`)."""
    out = model_output(model, batch, training)
    return {"loss": float(out.loss), **{key: float(value) for key, value in out.terms().items()}}
