"""LARS and AdamW against their formulas; the warm-up + cosine schedule at known points."""

import math

import torch

from ssl_lib.train.optim import LARS, build_optimizer, parameter_groups, warmup_cosine


def test_lars_step_matches_the_trust_ratio_formula():
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    w.grad = torch.tensor([0.5, -1.0])
    opt = LARS([dict(params=[w], weight_decay=0.1)], lr=0.2, momentum=0.9, eta=0.01)
    update = torch.tensor([0.5, -1.0]) + 0.1 * torch.tensor([3.0, 4.0])
    trust = 0.01 * 5.0 / update.norm()
    opt.step()
    assert torch.allclose(w.detach(), torch.tensor([3.0, 4.0]) - 0.2 * trust * update)


def test_biases_and_norms_are_excluded_from_decay_and_adaptation():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    decay, no_decay = parameter_groups(model, 1e-4)
    assert [p.ndim for p in decay["params"]] == [2] and decay["weight_decay"] == 1e-4
    assert len(no_decay["params"]) == 3 and no_decay["weight_decay"] == 0 and no_decay["lars"] is False
    sgd = build_optimizer("sgd", model, lr=0.1, weight_decay=1e-4, momentum=0.9)
    assert isinstance(sgd, torch.optim.SGD) and "lars" not in sgd.param_groups[1]


def test_warmup_then_cosine():
    assert warmup_cosine(0, 100, 10) == 0.1
    assert warmup_cosine(9, 100, 10) == 1.0
    assert warmup_cosine(10, 100, 10) == 1.0
    assert math.isclose(warmup_cosine(55, 100, 10), 0.5)
    assert warmup_cosine(100, 100, 10) == 0.0
    assert warmup_cosine(5, 100, 0) == 0.5 * (1 + math.cos(math.pi * 5 / 100))


def test_adamw_decays_weights_only_and_steps_like_its_formula():
    model = torch.nn.Linear(2, 1)
    opt = build_optimizer("adamw", model, lr=0.1, weight_decay=0.5, momentum=0.9)
    assert isinstance(opt, torch.optim.AdamW)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.5, 0.0] and "lars" not in opt.param_groups[1]
    w0 = model.weight.detach().clone()
    model.weight.grad = torch.tensor([[2.0, -3.0]])
    model.bias.grad = torch.tensor([1.0])
    opt.step()
    # First Adam step: m / sqrt(v) = sign(g); decoupled decay shrinks w by lr * wd first.
    expected = w0 * (1 - 0.1 * 0.5) - 0.1 * torch.tensor([[1.0, -1.0]])
    assert torch.allclose(model.weight.detach(), expected, atol=1e-6)
