"""AugSelf's targets and heads on one batch (ssl_lib/teaching/augself.py),
each function against a computation by hand (loops, numpy) or the library's own loss on the
same inputs."""

import pytest
import torch

from ssl_lib.augment import augself_targets, recipe
from ssl_lib.teaching import augself
from ssl_lib.models.augself import AugSelfHeads


def view_params(n=6, seed=0, name="simclr"):
    """Two views' parameters for n images of 32 px, drawn by recipe `name` (seeded)."""
    generator = torch.Generator().manual_seed(seed)
    pipeline = recipe(name, 32)
    return pipeline.sample(n, (32, 32), generator=generator), pipeline.sample(n, (32, 32), generator=generator)


def test_augself_target_table_by_hand():
    p1, p2 = view_params()
    crop = augself.augself_target_table(p1, p2, "crop")
    for part, params in (("view 1", p1), ("view 2", p2)):
        top, left, h, w = params.crop_box.double().numpy().T
        size = params.source_size.double().numpy()
        assert crop[(part, "centre_y")].to_numpy() == pytest.approx((top + h / 2) / size[:, 0])
        assert crop[(part, "centre_x")].to_numpy() == pytest.approx((left + w / 2) / size[:, 1])
        assert crop[(part, "width")].to_numpy() == pytest.approx(w / size[:, 1])
        assert crop[(part, "flipped")].tolist() == params.flip.tolist()
    target = augself_targets(p1, p2, ["crop"])["crop"].numpy()
    assert crop["target d(t1, t2)"].to_numpy() == pytest.approx(target)
    # height and centre_y differences do not depend on any flip convention
    assert crop[("target d(t1, t2)", "height")].to_numpy() == pytest.approx(
        (crop[("view 1", "height")] - crop[("view 2", "height")]).to_numpy(), abs=1e-6)
    color = augself.augself_target_table(p1, p2, "color")
    assert color["target d(t1, t2)"].to_numpy() == pytest.approx(
        color["view 1"].to_numpy() - color["view 2"].to_numpy(), abs=1e-6)
    with pytest.raises(ValueError, match="rotation"):
        augself.augself_target_table(p1, p2, "rotation")


@pytest.mark.parametrize("training", [True, False])
def test_augself_breakdown_matches_group_losses(training):
    torch.manual_seed(0)
    p1, p2 = view_params()
    heads = AugSelfHeads(5, {"crop": 1.0, "color": 1.0}, hidden=16)
    heads(torch.randn(6, 5), torch.randn(6, 5), p1, p2)  # move the running statistics off their init
    heads.eval()
    y1, y2 = torch.randn(6, 5), torch.randn(6, 5)
    table, losses = augself.augself_breakdown(heads, y1, y2, p1, p2, training=training)
    heads.train(training)
    with torch.no_grad():
        expected = heads.group_losses(y1, y2, p1, p2)
    assert losses == pytest.approx({g: float(v) for g, v in expected.items()}, rel=1e-5)
    assert len(table) == 2 * 6 * 8 and set(table.ordering) == {"(1, 2)", "(2, 1)"}
    forward = augself_targets(p1, p2, ["crop"])["crop"]
    rows = table[(table.ordering == "(1, 2)") & (table.group == "crop")]
    assert rows.target.to_numpy() == pytest.approx(forward.flatten().numpy())
    if not training:  # eval mode: each row's prediction is the head's on that row alone
        with torch.no_grad():
            alone = torch.tanh(heads.heads["crop"](torch.cat([y1[:1], y2[:1]], dim=1)))
        assert rows.prediction.to_numpy()[:4] == pytest.approx(alone.flatten().numpy(), abs=1e-6)
    flips = AugSelfHeads(5, {"flip": 1.0}, hidden=8)
    with pytest.raises(ValueError, match="flip"):
        augself.augself_breakdown(flips, y1, y2, p1, p2)


def test_head_predictions_score_each_component_as_r2_of_its_points(tmp_path):
    from ssl_lib.lab.runs import get_or_train
    from ssl_lib.train.config import TrainConfig
    from tests.lab.test_runs import TINY

    tiny = {**TINY, "method": "simclr", "recipe": "simclr", "augself_hidden": 16}
    run = get_or_train(TrainConfig(**tiny, augself="crop,color").validate(), tmp_path, log=None)
    points, r2 = augself.head_predictions(run, n=40)
    assert set(points.group) == {"crop", "color"} and len(points) == 40 * 8
    for (group, component), value in r2.items():
        part = points[(points.group == group) & (points.component == component)]
        sse = ((part.true - part.predicted) ** 2).sum()
        sst = ((part.true - part.true.mean()) ** 2).sum()
        assert value == pytest.approx(1 - sse / sst, rel=1e-4, abs=1e-6)
    plain = get_or_train(TrainConfig(**tiny).validate(), tmp_path, log=None)
    with pytest.raises(ValueError, match="no AugSelf heads"):
        augself.head_predictions(plain, n=8)
