"""AugSelf's targets and heads on one batch: the numbers notebook 04 shows a student.

    augself_target_table   what the two views recorded and the target between them
    augself_breakdown      each head's prediction, its target and the per-group loss
    augself_one_batch      that breakdown for a model, checked against its own loss
    head_predictions       a trained model's heads on fresh view pairs, with each output's R^2
    regression_groups      the groups whose head regresses its target

Notebook 04 imports this module (and `ssl_lib.lab.session`) only: the batch helpers, AugSelf's
targets and the transfer headline come with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from ssl_lib.augment import AugParams, augself_outputs, augself_targets, ops
from ssl_lib.data import make_synthetic
from ssl_lib.evaluation.probes import r2_score
from ssl_lib.evaluation.transfer import headline
from ssl_lib.train.engine import view_pipelines
from ssl_lib.teaching.one_batch import Batch, example_batch, kept_as_is, model_losses, model_output, project_views

# This module's own functions, then what its notebook uses from the rest of the library (re-exported).
__all__ = [
    "augself_target_table", "augself_breakdown", "augself_one_batch", "regression_groups", "head_predictions",
    "example_batch", "model_losses", "augself_outputs", "augself_targets", "headline",
]


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
    with kept_as_is(heads, training):
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
            of the table), ``model`` (the model's own loss for the group, `ModelOutput.augself`) and
            ``predicting 0`` (mean target^2: the loss of a head that always says "no difference").
    """
    if getattr(model, "augself", None) is None:
        raise ValueError("the model has no AugSelf heads")
    if getattr(model.method, "has_target", False):
        raise ValueError("augself_one_batch pairs the online features; this method has a momentum encoder")
    y = project_views(model, batch, training)
    table, by_hand = augself_breakdown(model.augself, y["y1"], y["y2"], batch.params1, batch.params2, training)
    per_model = model_output(model, batch, training).augself
    per_group = pd.DataFrame({group: {"weight": model.augself.weights[group], "by hand": value,
                                      "model": float(per_model[group]),
                                      "predicting 0": float((table.target[table.group == group] ** 2).mean())}
                              for group, value in by_hand.items()}).T.rename_axis("group")
    return table, per_group


@torch.no_grad()
def head_predictions(run, n: int = 256, seed: int = 0, device="cpu") -> tuple[pd.DataFrame, pd.Series]:
    """A trained AugSelf model's regression heads (`regression_groups`: crop, color, blur, solarize)
    on `n` fresh view pairs: each prediction against its target (flip and rotation predict a
    probability and a class, which an R^2 does not score).

    Args:
        run: the `ssl_lib.train.run_dir.RunDir` of a model with AugSelf heads.
        n: held-out synthetic scenes (test split, `seed`), each seen as two views drawn with the
            run's own recipe (a generator seeded with `seed`).
    Returns:
        points: one row per (group, component, pair): true and predicted difference;
        r2: per (group, component), the R^2 of the predictions (scikit-learn's definition).
    """
    model = run.load_model(device)
    if getattr(model, "augself", None) is None:
        raise ValueError(f"the run {run.path} has no AugSelf heads")
    config = run.load_config()
    images, _ = make_synthetic(n, config.image_size, seed=seed, split="test", device=device)
    pipeline1, pipeline2 = view_pipelines(config)
    generator = torch.Generator(device=device).manual_seed(seed)
    views1, params1 = pipeline1(images, generator)
    views2, params2 = pipeline2(images, generator)
    predictions = model.augself.predict(model.backbone(views1), model.backbone(views2))
    predictions = {g: p for g, p in predictions.items() if g in regression_groups()}
    if not predictions:
        raise ValueError(f"the run {run.path} has no AugSelf regression head")
    targets = augself_targets(params1, params2, list(predictions))
    names = augself_outputs()
    points = pd.concat([pd.DataFrame(dict(group=g, component=name, true=targets[g][:, j].cpu().numpy(),
                                          predicted=predictions[g][:, j].cpu().numpy()))
                        for g in predictions for j, name in enumerate(names[g])], ignore_index=True)
    r2 = pd.Series({(g, name): float(value) for g in predictions
                    for name, value in zip(names[g], r2_score(predictions[g].double(), targets[g].double()))})
    return points, r2
