"""The MLP heads every method builds: `mlp` and the plain projector.

A projector is called as ``projector(features, params)`` so that CASSLE's conditioned projector
(`ssl_lib.models.cassle`) replaces the plain one without touching a method: a method receives a
*projector factory* ``factory(in_dim, hidden, out_dim, layers, bn_last) -> nn.Module``.
"""

from __future__ import annotations

from torch import Tensor, nn

from ssl_lib.augment import AugParams


def mlp(dims: list[int], bn_last: bool = False) -> nn.Sequential:
    """Linear-BN-ReLU for every hidden layer, then a Linear (+ BN without affine if bn_last)."""
    layers = []
    for d_in, d_out in zip(dims[:-2], dims[1:-1]):
        layers += [nn.Linear(d_in, d_out, bias=False), nn.BatchNorm1d(d_out), nn.ReLU(inplace=True)]
    layers.append(nn.Linear(dims[-2], dims[-1], bias=not bn_last))
    if bn_last:
        layers.append(nn.BatchNorm1d(dims[-1], affine=False))
    return nn.Sequential(*layers)


class Projector(nn.Module):
    """The plain projector: an MLP on the features that ignores the augmentation parameters."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int, bn_last: bool = False):
        super().__init__()
        self.net = mlp([in_dim] + [hidden] * (layers - 1) + [out_dim], bn_last)

    def forward(self, features: Tensor, params: AugParams | None = None) -> Tensor:
        """(B, in_dim) features -> (B, out_dim); `params` is accepted for interface parity."""
        return self.net(features)


def plain_projector(in_dim: int, hidden: int, out_dim: int, layers: int, bn_last: bool) -> nn.Module:
    return Projector(in_dim, hidden, out_dim, layers, bn_last)
