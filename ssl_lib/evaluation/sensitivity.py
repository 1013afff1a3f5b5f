"""How much each network block reacts to each augmentation, and how much augmentation
information frozen features keep (CASSLE's analysis, Przewiezlikowski et al.).

* `block_sensitivity`: per block and per op group, as the CASSLE authors measure it: on each
  block's whole feature map, flattened (the input image included), the mean cosine of positives
  ``cos(f(x_i), f(t x_i))``, of negatives ``cos(f(x_i), f(t x_{B-1-i}))`` (the batch in
  reversed order) and InfoNCE ``2T * CE(norm f(x) @ norm f(t x)^T / T)`` with T = 0.2. An
  invariant block has positives near 1; a block that keeps instance identity separates
  positives from negatives (low InfoNCE).
* `augmentation_probe`: ridge R^2 of the augmentation descriptor ``AugParams.descriptor`` from
  the features of augmented views -- a representation that discarded what the augmentation
  changed cannot predict it.

Views come from `single_op_pipeline`: a recipe with every op group switched off except one.
"""

from __future__ import annotations

import math

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_lib.augment import DEFAULT_DESCRIPTOR_KEYS, AugmentPipeline, descriptor_layout, ops, recipe
from ssl_lib.augment.params import validate_descriptor_keys
from ssl_lib.evaluation.features import extract_features, module_device
from ssl_lib.evaluation.probes import ridge_probe
from ssl_lib.utils.checks import as_float_images

def single_op_pipeline(group: str, size: int, base: str = "mocov2", **overrides) -> AugmentPipeline:
    """The ``base`` recipe at output ``size`` with only op group ``group`` active, applied to
    every sample (probability 1) with the recipe's strength; ``"all"`` is the recipe unchanged.

    Groups are the ops of `ssl_lib.augment.ops` (`op_groups()`): crop (random resized crop), flip,
    color (jitter), grayscale, blur, solarize, rotation (k uniform in 0..3, so a quarter of the
    views are unrotated), and any registered op; each declares its `on` and `off` settings.
    Overrides are `AugmentConfig` settings applied last.
    """
    if group == "all":
        return recipe(base, size, **overrides)
    if group not in ops.op_names():
        raise ValueError(f"group: unknown op group {group!r}; known: {[*ops.op_names(), 'all']}")
    settings = {}
    for op in ops.ops():
        settings.update(op.on if op.name == group else op.off)
    return recipe(base, size, **{**settings, **overrides})


def op_groups() -> tuple[str, ...]:
    """The op groups `single_op_pipeline` knows (every registered op), without "all"."""
    return ops.op_names()


def _pair_statistics(clean: Tensor, moved: Tensor, temperature: float, chunk: int) -> tuple[Tensor, Tensor, Tensor]:
    """Per-sample positive cosine, negative cosine and scaled InfoNCE (each (N,)), batch by batch
    of ``chunk`` samples as the authors' loader: negatives pair sample i with sample B-1-i of its
    batch (reversed order; a middle sample of an odd batch meets itself), and InfoNCE classifies
    clean x_i among the batch's transformed views, times 2T (chance level 2T log B)."""
    positive, negative, losses = [], [], []
    for start in range(0, clean.shape[0], chunk):
        a = F.normalize(clean[start:start + chunk], dim=1)
        b = F.normalize(moved[start:start + chunk], dim=1)
        positive.append((a * b).sum(dim=1))
        negative.append((a * b.flip(0)).sum(dim=1))
        target = torch.arange(a.shape[0], device=a.device)
        losses.append(F.cross_entropy(a @ b.T / temperature, target, reduction="none") * 2 * temperature)
    return torch.cat(positive), torch.cat(negative), torch.cat(losses)


def block_sensitivity(
    backbone: nn.Module,
    images: Tensor,
    groups=None,
    base: str = "mocov2",
    temperature: float = 0.2,
    batch_size: int = 256,
    seed: int = 0,
    model: str = "model",
    eval_transform=None,
    spatial: bool = True,
) -> pd.DataFrame:
    """CASSLE's per-block sensitivity of a frozen backbone to each augmentation op group.

    Args:
        backbone: a `ssl_lib.models.backbones.Backbone` (needs ``forward_stages``), used in eval mode.
        images: (N, 3, S, S) clean float images in [0, 1] (or uint8), N >= 2.
        groups: op groups of `single_op_pipeline` (and "all" for the whole recipe); default:
            every op group, then "all".
        base: the recipe whose op strengths are used.
        temperature: InfoNCE temperature (CASSLE: 0.2).
        batch_size: images per forward pass, and the batch of the negatives and of InfoNCE.
        seed: seeds the augmentations.
        spatial: the authors' flattened feature maps, with the input image as block "input"
            (default); False: each stage's global pool (`Backbone.forward_stages`).
    Returns:
        A tidy DataFrame, one row per (op group, block): model, transform, block, positive
        (mean cos(f(x_i), f(t x_i))), negative (mean cos(f(x_i), f(t x_{B-1-i}))), infonce
        (mean 2T-scaled loss), n_images.
    """
    images = as_float_images(images)
    n, size = images.shape[0], images.shape[-1]
    if n < 2:
        raise ValueError(f"images needs at least 2 samples for negatives, got {n}")
    if images.shape[-2] != size:
        raise ValueError(f"images must be square, got {tuple(images.shape[-2:])}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    device = module_device(backbone)
    images = images.to(device)
    def features(x):
        out = extract_features(backbone, x, batch_size=batch_size, transform=eval_transform, stages=True,
                               spatial=spatial)
        return {"input": x.flatten(1), **out} if spatial else out

    clean = features(images)
    groups = (*op_groups(), "all") if groups is None else groups
    rows = []
    for index, group in enumerate(groups):
        pipeline = single_op_pipeline(group, size, base)
        generator = torch.Generator(device=device).manual_seed(seed * 1000 + index)
        views, _ = pipeline(images, generator=generator)
        moved = features(views)
        for block in clean:
            pos, neg, nce = _pair_statistics(clean[block], moved[block], temperature, batch_size)
            rows.append(dict(model=model, transform=group, block=block, positive=float(pos.mean()),
                             negative=float(neg.mean()), infonce=float(nce.mean()), n_images=n))
    return pd.DataFrame(rows)


def projector_sensitivity(
    model: nn.Module,
    images: Tensor,
    groups=("crop", "color", "blur", "flip", "grayscale"),
    base: str = "mocov2",
    temperature: float = 0.2,
    batch_size: int = 256,
    seed: int = 0,
    name: str = "model",
) -> pd.DataFrame:
    """CASSLE's projector-level analysis: the positives / negatives / InfoNCE of
    `block_sensitivity`, on the projector's output, with each view's own descriptor ("matched")
    or another image's ("mixed": the batch's descriptors in reversed order; for flip and
    grayscale, which every view of a single-op pipeline shares, the op's entry "not applied").

    The clean image is projected with the identity descriptor (centre crop, nothing else), as
    the authors do. A projector that uses the descriptor "explains away" the augmentation:
    matched positives above mixed ones.

    Args:
        model: an `ssl_lib.models.compose.SSLModel` whose projector is conditioned (CASSLE); run
            in eval mode (the authors' script leaves BatchNorm in train mode).
        images: (N, 3, S, S) clean images in [0, 1] (or uint8), N >= 2.
    Returns:
        One row per (op group, descriptors): model, transform, descriptors, positive, negative,
        infonce, n_images.
    """
    projector = model.method.projector
    if not hasattr(projector, "embed"):
        raise ValueError("projector_sensitivity needs a CASSLE model (a conditioned projector)")
    images = as_float_images(images)
    n, size = images.shape[0], images.shape[-1]
    if n < 2:
        raise ValueError(f"images needs at least 2 samples for negatives, got {n}")
    device = module_device(model)
    images = images.to(device)
    identity = single_op_pipeline("crop", size, base, crop="center")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            _, clean_params = identity(images)
            clean = projector(model.backbone(images), clean_params)
            rows = []
            for index, group in enumerate(groups):
                views, params = single_op_pipeline(group, size, base)(
                    images, generator=torch.Generator(device=device).manual_seed(seed * 1000 + index))
                y = model.backbone(views)
                # An op whose descriptor block is the same for every view here (flip, grayscale:
                # applied to all) gives another image's descriptor unchanged, so "mixed" reads
                # "not applied" (the clean descriptor) instead.
                mixed = clean_params if _same_for_every_view(params, group) else params[torch.arange(n - 1, -1, -1)]
                for mode, descriptor in (("matched", params), ("mixed", mixed)):
                    pos, neg, nce = _pair_statistics(clean, projector(y, descriptor), temperature, batch_size)
                    rows.append(dict(model=name, transform=group, descriptors=mode, positive=float(pos.mean()),
                                     negative=float(neg.mean()), infonce=float(nce.mean()), n_images=n))
    finally:
        model.train(was_training)
    return pd.DataFrame(rows)


def _same_for_every_view(params, group: str) -> bool:
    """Whether every view's descriptor block of op `group` is the same (one host sync)."""
    keys = list(ops.get(group).descriptor)
    if not keys:
        return False
    block = params.descriptor(keys)
    return bool((block == block[:1]).all())


def augmentation_probe(
    backbone: nn.Module,
    images: Tensor,
    pipeline: AugmentPipeline | None = None,
    keys=DEFAULT_DESCRIPTOR_KEYS,
    stages: bool = True,
    split=(0.5, 0.25),
    l2_grid=None,
    batch_size: int = 256,
    seed: int = 0,
    model: str = "model",
    eval_transform=None,
) -> pd.DataFrame:
    """How well frozen features of augmented views predict the augmentation (ridge R^2).

    One view per image is drawn with ``pipeline`` (default ``recipe("mocov2", size)``); its
    descriptor ``params.descriptor(keys)`` is regressed on the view's features with
    `ssl_lib.evaluation.ridge_probe` (L2 weight chosen on a validation part, scored on a
    held-out test part).

    Args:
        images: (N, 3, S, S) float images in [0, 1] (or uint8), N >= 8.
        keys: descriptor keys (`ssl_lib.augment.descriptor_layout`).
        stages: probe every block of ``forward_stages``; False probes the final features only
            (block "features").
        split: train and validation fractions; the rest is the test part.
    Returns:
        A tidy DataFrame, one row per (block, key) plus a key "all" (mean over every
        non-constant descriptor column): model, block, key, r2, l2. A key whose columns are
        constant on the test part (e.g. an op the pipeline never applies) has r2 NaN.
    """
    images = as_float_images(images)
    keys = validate_descriptor_keys(keys)
    n = images.shape[0]
    n_train, n_val = int(split[0] * n), int(split[1] * n)
    if min(n_train, n_val, n - n_train - n_val) < 2:
        raise ValueError(f"split {split} of {n} images leaves a part with fewer than 2 samples")
    device = module_device(backbone)
    images = images.to(device)
    pipeline = recipe("mocov2", images.shape[-1]) if pipeline is None else pipeline
    views, params = pipeline(images, generator=torch.Generator(device=device).manual_seed(seed))
    target = params.descriptor(keys).to(device)
    feats = extract_features(backbone, views, batch_size=batch_size, transform=eval_transform, stages=stages)
    feats = feats if stages else {"features": feats}

    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(device)
    parts = order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]
    columns = {block["key"]: slice(block["first"], block["last"] + 1) for block in descriptor_layout(keys)}
    rows = []
    for block, x in feats.items():
        splits = dict(zip(("train", "val", "test"), parts))
        result = ridge_probe({s: x[i] for s, i in splits.items()}, {s: target[i] for s, i in splits.items()},
                             l2_grid=l2_grid)
        per_output = torch.tensor(result.r2_per_output)
        for key, cols in [*columns.items(), ("all", slice(None))]:
            values = per_output[cols]
            r2 = float(values.nanmean()) if (~values.isnan()).any() else math.nan
            rows.append(dict(model=model, block=block, key=key, r2=r2, l2=result.l2))
    return pd.DataFrame(rows)
