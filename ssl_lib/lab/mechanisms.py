"""Each paper's mechanism on one small batch: the numbers notebooks 02-06 show a student.

Every function works on what one forward pass of a few images produces (views and their
parameters, backbone features y, projections z) and spells the paper's computation out step by
step, so a notebook can print it next to what the library computes and the two can be compared:

    example_batch            a few synthetic scenes and two random views of each (+ parameters)
    project_views            backbone features and projections of both views (no gradient)
    model_losses             the model's own loss terms on the batch
    view_labels              names of the 2B views, "1·i" and "2·i"
    similarity_matrix        SimCLR: the 2B x 2B cosine matrix of [z1; z2] and its positives
    nt_xent_terms            SimCLR: each anchor's NT-Xent term, written out from that matrix
    nt_xent_check            SimCLR: the model's loss, `nt_xent` and those terms' mean side by side
    contrastive_table        SimCLR: per anchor, its positive, its negatives and its loss term
    similarity_figure        SimCLR: the matrix as a heatmap with the positives marked
    whitened_pairs           Ericsson et al.: plain and whitened cosine of pairs of feature sets
    variance_shares          Ericsson et al.: how unevenly the feature variance is spread
    whitening_error          Ericsson et al.: how exactly W W^T inverts the covariance
    augself_target_table     AugSelf: what the two views recorded and the target between them
    augself_breakdown        AugSelf: each head's prediction, its target and the per-group loss
    augself_one_batch        AugSelf: that breakdown for a model, checked against its own loss
    conditioning_effect      CASSLE: the projector's output with matched vs borrowed descriptors
    feature_aug_table        feature augmentation: what each operator does to a batch of z
    stop_gradient_check      feature augmentation: which side of L_fa receives a gradient

Shapes: B images, 2B views; C backbone feature width; D projection width.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_lib.augment import AugParams, augself_outputs, augself_targets, ops, recipe
from ssl_lib.data import make_synthetic
from ssl_lib.evaluation.invariance import Whitener, default_ridge, whitened_cosine
from ssl_lib.models.feature_aug import OPERATORS, FeatureAugmenter
from ssl_lib.models.losses import nt_xent


@contextmanager
def _seeded(seed: int | None, device):
    """Global torch RNG fixed to ``seed`` inside the block and restored after it (no-op for None)."""
    if seed is None:
        yield
        return
    device = torch.device(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


# -- one batch -----------------------------------------------------------------------------------


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
def _kept_as_is(module: nn.Module, training: bool):
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
    with _kept_as_is(model, training):
        y1, y2 = method.encode(batch.views1, batch.views2)
        z1, z2 = method.project(y1, y2, batch.params1, batch.params2)
    return dict(y1=y1, y2=y2, z1=z1, z2=z2)


@torch.no_grad()
def model_losses(model: nn.Module, batch: Batch, training: bool = True) -> dict[str, float]:
    """The scalar terms of the model's forward pass on the batch (``loss``, ``ssl_loss`` and
    each ``augself_<group>``), as floats; no gradient, mode and running statistics kept as
    `project_views` keeps them."""
    with _kept_as_is(model, training):
        out = model(batch.views1, batch.views2, batch.params1, batch.params2)
    return {key: float(value) for key, value in out.items()
            if key in ("loss", "ssl_loss") or key.startswith("augself_")}


# -- SimCLR ----------------------------------------------------------------------------------------


def view_labels(b: int) -> list[str]:
    """Names of the 2B rows of [z1; z2]: "1·i" is view 1 of image i, "2·i" view 2."""
    return [f"{v}·{i}" for v in (1, 2) for i in range(b)]


def similarity_matrix(z1: Tensor, z2: Tensor) -> tuple[Tensor, Tensor]:
    """The cosine similarities of all 2B views and where the positives are.

    Args:
        z1, z2: (B, D) projections of the two views; row i of both comes from image i.
    Returns:
        sim: (2B, 2B) float64, sim[a, k] = cos(u_a, u_k) for u = [z1; z2] (rows 0..B-1 view 1,
            B..2B-1 view 2); the diagonal is 1.
        positive: (2B, 2B) bool, True at (i, i + B) and (i + B, i), the other view of the same
            image. Every other off-diagonal entry of a row is a negative.
    """
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must have the same shape (B, D), got {tuple(z1.shape)} and {tuple(z2.shape)}")
    u = F.normalize(torch.cat([z1, z2]).detach().double().cpu(), dim=1)
    b = z1.shape[0]
    rows = torch.arange(2 * b)
    positive = torch.zeros(2 * b, 2 * b, dtype=torch.bool)
    positive[rows, (rows + b) % (2 * b)] = True
    return u @ u.T, positive


def nt_xent_terms(z1: Tensor, z2: Tensor, temperature: float) -> Tensor:
    """Each anchor's NT-Xent term (2B,) float64, written out from `similarity_matrix`:

        l_a = -log( exp(sim[a, p(a)] / T) / sum_{k != a} exp(sim[a, k] / T) )

    Their mean is `ssl_lib.models.losses.nt_xent(z1, z2, T)`.
    """
    sim, positive = similarity_matrix(z1, z2)
    logits = torch.exp(sim / temperature)
    others = ~torch.eye(sim.shape[0], dtype=torch.bool)
    numerator = logits[positive]  # one positive per row, in row order
    denominator = (logits * others).sum(dim=1)
    return -torch.log(numerator / denominator)


def nt_xent_check(model: nn.Module, batch: Batch, training: bool = True) -> dict[str, float]:
    """A SimCLR model's loss on the batch three ways: the model's own forward pass, the library's
    `nt_xent` on its projections, and the mean of `nt_xent_terms` (the formula written out),
    with the method's temperature; in train (``training``) or eval mode, as `project_views`."""
    z = project_views(model, batch, training)
    temperature = model.method.spec.temperature
    return {"model's loss": model_losses(model, batch, training)["loss"],
            "nt_xent(z1, z2)": float(nt_xent(z["z1"], z["z2"], temperature)),
            "mean of l_a by hand": float(nt_xent_terms(z["z1"], z["z2"], temperature).mean())}


def contrastive_table(z1: Tensor, z2: Tensor, temperature: float) -> pd.DataFrame:
    """One row per anchor of NT-Xent: anchor, positive (names as `view_labels`), the cosine to
    its positive, the mean and the largest cosine to its 2B - 2 negatives, the softmax
    probability the loss gives the positive (among the 2B - 1 other views) and the loss term."""
    sim, positive = similarity_matrix(z1, z2)
    labels = view_labels(z1.shape[0])
    negative = ~positive & ~torch.eye(sim.shape[0], dtype=torch.bool)
    terms = nt_xent_terms(z1, z2, temperature)
    neg = sim.masked_fill(~negative, float("nan"))
    return pd.DataFrame({
        "anchor": labels,
        "positive": [labels[int(j)] for j in positive.float().argmax(dim=1)],
        "cos positive": sim[positive].numpy(),
        "cos negatives (mean)": np.nanmean(neg.numpy(), axis=1),
        "cos negatives (max)": np.nanmax(neg.numpy(), axis=1),
        "p(positive)": torch.exp(-terms).numpy(),
        "loss term": terms.numpy(),
    })


def similarity_figure(sim: Tensor, positive: Tensor, title: str = "cosine similarity of the 2B views"):
    """A plotly heatmap of the (2B, 2B) `similarity_matrix` with the positives circled."""
    import plotly.express as px

    labels = view_labels(sim.shape[0] // 2)
    fig = px.imshow(sim.numpy(), x=labels, y=labels, zmin=-1, zmax=1, color_continuous_scale="RdBu_r",
                    text_auto=".2f", title=title)
    rows, cols = positive.nonzero(as_tuple=True)
    fig.add_scatter(x=[labels[c] for c in cols.tolist()], y=[labels[r] for r in rows.tolist()], mode="markers",
                    marker=dict(symbol="circle-open", size=22, color="black", line=dict(width=2)), name="positive")
    fig.update_layout(height=520, width=600)
    return fig


# -- Ericsson et al.: the whitened cosine -------------------------------------------------------------


def whitened_pairs(features_x: Tensor, features_tx: Tensor, reference_features: Tensor,
                   ridge: float | None = None) -> pd.DataFrame:
    """Plain and whitened cosine of each pair, and of an unrelated pair for scale.

    Args:
        features_x, features_tx: (N, C) features of N clean images and of their transformed
            versions (row i of both from image i); N >= 2.
        reference_features: (M, C) clean features the whitening is estimated on.
        ridge: as `ssl_lib.evaluation.invariance.whitened_cosine`; None: `default_ridge` of the
            reference (a small scale-free shrinkage).
    Returns:
        One row per image i: ``cos`` and ``whitened cos`` of (x_i, t(x_i)), and the same for the
        unrelated pair (x_i, t(x_{i+1})) (``cos unrelated``, ``whitened cos unrelated``).
    """
    ridge = default_ridge(reference_features) if ridge is None else ridge
    shifted = features_tx.roll(-1, dims=0)
    plain = lambda a, b: F.cosine_similarity(a.double(), b.double(), dim=1).cpu().numpy()
    whitened = lambda a, b: whitened_cosine(a, b, reference_features, ridge).cpu().numpy()
    return pd.DataFrame({"image": np.arange(features_x.shape[0]),
                         "cos": plain(features_x, features_tx),
                         "whitened cos": whitened(features_x, features_tx),
                         "cos unrelated": plain(features_x, shifted),
                         "whitened cos unrelated": whitened(features_x, shifted)})


def variance_shares(features: Tensor) -> np.ndarray:
    """The share of the total variance of (N, C) features along each principal direction
    (eigenvalues of the unbiased covariance over their sum), largest first: (C,)."""
    cov = torch.cov(features.double().T, correction=1).reshape(features.shape[1], features.shape[1])
    eig = torch.linalg.eigvalsh(cov).clamp_min(0).flip(0)
    return (eig / eig.sum()).cpu().numpy()


def whitening_error(reference_features: Tensor, ridge: float) -> float:
    """max |W W^T (S + ridge I) - I| for the `Whitener` fitted on (M, C) reference features:
    how exactly the whitening matrix W inverts the (ridged) covariance S."""
    whitener = Whitener.fit(reference_features, ridge)
    ref = reference_features.double().to(whitener.weight.device)
    d = ref.shape[1]
    eye = torch.eye(d, dtype=torch.float64, device=ref.device)
    cov = torch.cov(ref.T, correction=1).reshape(d, d) + ridge * eye
    return float((whitener.weight @ whitener.weight.T @ cov - eye).abs().max())


# -- AugSelf ---------------------------------------------------------------------------------------

def regression_groups() -> tuple[str, ...]:
    """AugSelf groups whose head regresses the target (crop, color, blur, solarize; flip and
    rotation are classifications), as each op declares its loss."""
    return tuple(g for g, target in ops.augself_groups().items() if target.loss == "regression")


def _view_record(params: AugParams, group: str) -> pd.DataFrame:
    """What one view recorded for ``group``, the raw material of AugSelf's target: (B rows)."""
    if group == "crop":  # the box as drawn, before any flip
        record = pd.DataFrame(params.crop_vector(mirror=False).cpu().numpy(), columns=list(augself_outputs()["crop"]))
        return record.assign(flipped=params.flip.cpu().numpy())
    if group == "color":
        return pd.DataFrame(params.color_vector().cpu().numpy(), columns=list(augself_outputs()["color"]))
    if group == "blur":
        return pd.DataFrame({"sigma": params.blur_sigma.float().cpu().numpy()})
    raise ValueError(f"augself_target_table shows the groups crop, color and blur, not {group!r}")


def augself_target_table(params1: AugParams, params2: AugParams, group: str = "crop") -> pd.DataFrame:
    """For each of the B view pairs: what view 1 and view 2 recorded for ``group`` and AugSelf's
    target d(t1, t2) for it (`ssl_lib.augment.augself_targets`).

    Per view: crop, the box's centre y, centre x, height and width over the image size (as drawn,
    before any flip) and the flip; color, the jitter factors normalised as AugSelf ((f - 1) / range,
    0 when not jittered); blur, sigma (0 when not blurred).
    Columns: a MultiIndex (part, component), part in ("view 1", "view 2", "target d(t1, t2)").
    """
    target = augself_targets(params1, params2, [group])[group]
    return pd.concat({"view 1": _view_record(params1, group), "view 2": _view_record(params2, group),
                      "target d(t1, t2)": pd.DataFrame(target.detach().float().cpu().numpy(),
                                                       columns=list(augself_outputs()[group]))},
                     axis=1).rename_axis("pair")


@torch.no_grad()
def augself_breakdown(heads: nn.Module, y1: Tensor, y2: Tensor, params1: AugParams, params2: AugParams,
                      training: bool = True) -> tuple[pd.DataFrame, dict[str, float]]:
    """Every AugSelf head's prediction next to its target, and each group's loss from them.

    As `AugSelfHeads.group_losses`, both orderings go through each head as one batch of 2B rows:
    [y1, y2] predicts d(t1, t2) and [y2, y1] predicts d(t2, t1). `AugSelfHeads.predict` maps each
    output into the target's space (tanh). With ``training`` (the default) BatchNorm uses the 2B
    rows' statistics, as in a training step; the heads' mode and running statistics are kept.

    Args:
        heads: an `ssl_lib.models.augself.AugSelfHeads` whose groups are all regressions
            (`regression_groups`).
        y1, y2: (B, C) backbone features of the two views; params1, params2: their AugParams.
    Returns:
        table: one row per (ordering, pair, group, component): target, prediction and
            squared_error;
        losses: {group: the mean squared error over that group's 2 x B x k rows}, the
            unweighted group loss `group_losses` computes (in the same mode).
    """
    other = sorted(set(heads.heads) - set(regression_groups()))
    if other:
        raise ValueError(f"augself_breakdown shows regression groups {list(regression_groups())}, not {other}")
    groups = list(heads.heads)
    with _kept_as_is(heads, training):
        # rows [y1_i, y2_i] then [y2_i, y1_i]: the batch group_losses builds
        predictions = heads.predict(torch.cat([y1, y2]), torch.cat([y2, y1]))
    forward = augself_targets(params1, params2, groups)
    backward = augself_targets(params2, params1, groups)
    b = y1.shape[0]
    frames = []
    for group in groups:
        prediction = predictions[group].float().cpu()
        target = torch.cat([forward[group], backward[group]]).float().cpu()
        k = target.shape[1]
        frames.append(pd.DataFrame(dict(
            ordering=np.repeat(["(1, 2)", "(2, 1)"], b * k), pair=np.tile(np.repeat(np.arange(b), k), 2),
            group=group, component=list(augself_outputs()[group]) * (2 * b), target=target.flatten().numpy(),
            prediction=prediction.flatten().numpy(), squared_error=((prediction - target) ** 2).flatten().numpy())))
    table = pd.concat(frames, ignore_index=True)
    losses = {group: float(table.squared_error[table.group == group].astype(np.float64).mean()) for group in groups}
    return table, losses


def augself_one_batch(model: nn.Module, batch: Batch, training: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`augself_breakdown` of an `SSLModel` with AugSelf heads on the batch, and a check per group.

    The heads read the online backbone features of both views (`project_views`), so the model's
    method must have no momentum encoder (SimCLR, SimSiam, Barlow Twins, VICReg): with one, which
    y2 AugSelf pairs with y1 is the method's choice.
    Returns:
        table: the `augself_breakdown` table;
        per_group: one row per group: ``weight`` lambda_g, ``by hand`` (the mean squared error
            of the table), ``model`` (the model's own ``augself_<group>`` on the batch) and
            ``predicting 0`` (mean target^2: the loss of a head that always says "no difference").
    """
    if getattr(model, "augself", None) is None:
        raise ValueError("the model has no AugSelf heads")
    if getattr(model.method, "has_target", False):
        raise ValueError("augself_one_batch pairs the online features; this method has a momentum encoder")
    y = project_views(model, batch, training)
    table, by_hand = augself_breakdown(model.augself, y["y1"], y["y2"], batch.params1, batch.params2, training)
    losses = model_losses(model, batch, training)
    per_group = pd.DataFrame({group: {"weight": model.augself.weights[group], "by hand": value,
                                      "model": losses[f"augself_{group}"],
                                      "predicting 0": float((table.target[table.group == group] ** 2).mean())}
                              for group, value in by_hand.items()}).T.rename_axis("group")
    return table, per_group


# -- CASSLE ----------------------------------------------------------------------------------------


@torch.no_grad()
def conditioning_effect(projector: nn.Module, features: Tensor, params: AugParams, shift: int = 1,
                        training: bool = True) -> pd.DataFrame:
    """What the conditioned projector does with the descriptor: each view's projection with its
    own descriptor ("matched") against the same features with another view's descriptor
    ("borrowed": view i gets the descriptor of view (i + shift) mod B, as a derangement).

    Args:
        projector: a `ssl_lib.models.cassle.ConditionedProjector` in "matched" mode.
        features: (B, C) backbone features; params: the views' AugParams (B rows).
        shift: which other view's descriptor each view borrows (1 <= shift < B).
        training: BatchNorm with the batch's statistics, as in a training step (the default;
            borrowing permutes the descriptors, so their statistics stay the same), or in eval
            mode with the running ones. The projector's mode and running statistics are kept.
    Returns:
        One row per view: ``descriptor distance`` ||d_i - d_j||, ``cos(z matched, z borrowed)``
        and ``relative change`` ||z(y_i, d_i) - z(y_i, d_j)|| / ||z(y_i, d_i)||, and for scale
        ``cos(z_i, z_j) matched``, the cosine between two different images' projections.
    """
    if getattr(projector, "descriptors", "matched") != "matched":
        raise ValueError("conditioning_effect needs a projector in 'matched' mode (a 'shuffled' one permutes "
                         "the descriptors itself)")
    b = features.shape[0]
    if not 1 <= shift < b:
        raise ValueError(f"shift must lie in [1, {b - 1}] for a batch of {b}, got {shift}")
    other = torch.roll(torch.arange(b), -shift)
    with _kept_as_is(projector, training):
        matched = projector(features, params)
        borrowed = projector(features, params[other.to(params.flip.device)])
    d = params.descriptor(projector.keys)
    cos = lambda a, c: F.cosine_similarity(a.double(), c.double(), dim=1).cpu().numpy()
    return pd.DataFrame({
        "view": np.arange(b), "borrows from": other.numpy(),
        "descriptor distance": (d - d[other.to(d.device)]).norm(dim=1).cpu().numpy(),
        "cos(z matched, z borrowed)": cos(matched, borrowed),
        "relative change": ((matched - borrowed).norm(dim=1) / matched.norm(dim=1)).cpu().numpy(),
        "cos(z_i, z_j) matched": cos(matched, matched[other.to(matched.device)]),
    })


# -- feature augmentation --------------------------------------------------------------------------


@torch.no_grad()
def feature_aug_table(z: Tensor, operators=OPERATORS, strengths: dict | None = None, seed: int = 0) -> pd.DataFrame:
    """Each feature-augmentation operator applied once to a batch of projections.

    Args:
        z: (B, D) projections (B >= 2). operators: names from `OPERATORS`.
        strengths: {operator: strength}; missing operators use their default.
        seed: the random draw of every operator (the global RNG is restored afterwards).
    Returns:
        One row per operator: strength, ``cos(FA(z), z)`` mean and min over the batch,
        ``relative change`` mean ||FA(z) - z|| / ||z||, ``entries zeroed`` (the fraction of the
        B x D entries FA set to 0: dropout's rate) and, the same in every row for scale,
        ``cos to nearest other z``: the mean over i of the largest cos(z_i, z_j), j != i (how
        close another image already is).
    """
    strengths = strengths or {}
    rows = []
    others = ~torch.eye(z.shape[0], dtype=torch.bool, device=z.device)
    u = F.normalize(z.double(), dim=1)
    nearest = (u @ u.T).masked_fill(~others, -2).max(dim=1).values.mean()
    for operator in operators:
        with _seeded(seed, z.device):
            augmenter = FeatureAugmenter(operator, z.shape[1], strengths.get(operator)).to(z.device)
            out = augmenter(z)
        cos = F.cosine_similarity(out.double(), z.double(), dim=1)
        rows.append({"operator": operator, "strength": augmenter.strength, "cos(FA(z), z) mean": float(cos.mean()),
                     "cos(FA(z), z) min": float(cos.min()),
                     "relative change": float(((out - z).norm(dim=1) / z.norm(dim=1)).mean()),
                     "entries zeroed": float(((out == 0) & (z != 0)).double().mean()),
                     "cos to nearest other z": float(nearest)})
    return pd.DataFrame(rows)


def stop_gradient_check(z1: Tensor, z2: Tensor, operator: str = "noise", pair_loss=None, strength=None,
                        seed: int = 0) -> pd.DataFrame:
    """Where the stop-gradient cuts L_fa = (L(a1, FA(t2^)) + L(a2, FA(t1^))) / 2.

    SimCLR passes the same projections as anchors a and targets t; here they are two separate
    leaf copies of (z1, z2), so the gradient L_fa sends back along each path can be read off:
    the anchor path (the un-augmented side) and the target path (through FA, into t^ =
    `FeatureAugmenter.source(t)`, which is t.detach() with stop_grad).

    Args:
        z1, z2: (B, D) projections of the two views.
        operator, strength: the FA operator; pair_loss: L (default SimCLR's NT-Xent, T = 0.2).
        seed: the operator's random draw, the same for both settings.
    Returns:
        One row per stop_grad setting (True, False): L_fa and the gradient norms
        ||dL_fa/da|| (anchors) and ||dL_fa/dt|| (targets, 0 where the stop-gradient cuts).
    """
    pair_loss = pair_loss or (lambda a, b: nt_xent(a, b, 0.2))
    rows = []
    for stop_grad in (True, False):
        anchors = [z.detach().clone().requires_grad_(True) for z in (z1, z2)]
        targets = [z.detach().clone().requires_grad_(True) for z in (z1, z2)]
        with _seeded(seed, z1.device):
            augmenter = FeatureAugmenter(operator, z1.shape[1], strength, stop_grad=stop_grad).to(z1.device)
            loss = augmenter.positive_loss(pair_loss, tuple(anchors), tuple(targets))
        loss.backward()
        norm = lambda leaves: math.sqrt(sum(float((leaf.grad.double() ** 2).sum())
                                            for leaf in leaves if leaf.grad is not None))
        rows.append({"stop_grad": stop_grad, "L_fa": float(loss.detach()), "grad norm, anchors": norm(anchors),
                     "grad norm, targets (FA input)": norm(targets)})
    return pd.DataFrame(rows)
