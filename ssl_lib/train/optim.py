"""Optimisers and the learning-rate schedule used for pretraining."""

from __future__ import annotations

import math

import torch
from torch import nn


class LARS(torch.optim.Optimizer):
    """SGD with momentum and layer-wise trust ratios (You et al. 2017), as used by BYOL/Barlow Twins.

    For parameters in groups with `lars=True`: update = g + wd * w scaled by
    eta * ||w|| / ||g + wd * w|| (1 when either norm is 0); biases and BatchNorm parameters go in
    a group with `lars=False` and weight_decay=0, as the papers exclude them.
    """

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, eta: float = 0.001):
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, lars=True))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                update = p.grad.add(p, alpha=group["weight_decay"]) if group["weight_decay"] else p.grad.clone()
                if group["lars"]:
                    w_norm, u_norm = p.norm(), update.norm()
                    trust = torch.where((w_norm > 0) & (u_norm > 0), group["eta"] * w_norm / u_norm,
                                        torch.ones_like(w_norm))
                    update.mul_(trust)
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = update
                else:
                    state["momentum_buffer"].mul_(group["momentum"]).add_(update)
                p.add_(state["momentum_buffer"], alpha=-group["lr"])
        return loss


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weights get weight decay (and LARS adaptation); biases and norm parameters get neither."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [dict(params=decay, weight_decay=weight_decay),
            dict(params=no_decay, weight_decay=0.0, lars=False)]


def build_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float, momentum: float):
    """"sgd" (momentum SGD), "lars" or "adamw" (decoupled weight decay; `momentum` unused) over
    `parameter_groups(model)`. On CUDA, SGD and AdamW use torch's fused kernels (one launch for
    every parameter, same update)."""
    groups = parameter_groups(model, weight_decay)
    on_cuda = any(p.is_cuda for g in groups for p in g["params"])
    fused = dict(fused=True) if on_cuda else {}
    if name == "sgd":
        for g in groups:
            g.pop("lars", None)
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, **fused)
    if name == "lars":
        return LARS(groups, lr=lr, momentum=momentum)
    if name == "adamw":
        for g in groups:
            g.pop("lars", None)
        return torch.optim.AdamW(groups, lr=lr, **fused)
    raise ValueError(f"unknown optimizer {name!r}; known: ['sgd', 'lars', 'adamw']")


def warmup_cosine(step: int, total_steps: int, warmup_steps: int) -> float:
    """LR multiplier: linear from 1/warmup to 1 over the warm-up, then cosine decay to 0."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
