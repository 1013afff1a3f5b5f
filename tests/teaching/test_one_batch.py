"""A batch of views through a model (ssl_lib/teaching/one_batch.py),
each function against a computation by hand (loops, numpy) or the library's own loss on the
same inputs."""

import pytest
import torch

from ssl_lib.teaching import contrastive, one_batch


def test_project_views_gives_the_models_loss_and_leaves_it_as_it_was():
    from ssl_lib.lab import experiments
    from ssl_lib.lab.profiles import resolve
    from ssl_lib.models.compose import build_model

    P = resolve("smoke")
    batch = one_batch.example_batch(P.image_size, n=4)
    assert batch.views1.shape == (4, 3, P.image_size, P.image_size) and len(batch.params2) == 4
    torch.manual_seed(0)
    model = build_model(experiments.get("SimCLR").config(P, 0)).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = one_batch.project_views(model, batch)
    assert not model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    model.train()
    with torch.no_grad():
        loss = model(batch.views1, batch.views2, batch.params1, batch.params2).loss
    assert float(contrastive.nt_xent_terms(out["z1"], out["z2"], model.method.spec.temperature).mean()) == \
        pytest.approx(float(loss), abs=1e-5)
    check = contrastive.nt_xent_check(model, batch)
    assert list(check.values()) == pytest.approx([float(loss)] * 3, abs=1e-5)
