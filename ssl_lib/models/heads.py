"""The MLP heads every method builds: `mlp` and the plain projector.

A projector is called as ``projector(features, params)`` so that CASSLE's conditioned projector
(`ssl_lib.models.cassle`) replaces the plain one without touching a method: a method receives a
*projector factory* ``factory(in_dim, hidden, out_dim, layers, bn_last) -> nn.Module``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ssl_lib.augment import AugParams


@dataclass(frozen=True)
class Block:
    """One layer of an MLP head: Linear to `out` (with `bias`), then BatchNorm1d if `bn` ("affine"
    or "plain", i.e. affine=False; None: none), then ReLU if `relu`."""

    out: int
    bias: bool = True
    bn: str | None = None
    relu: bool = False

    def __post_init__(self):
        if self.bn not in (None, "affine", "plain"):
            raise ValueError(f"Block.bn must be None, 'affine' or 'plain', got {self.bn!r}")


def hidden_block(width: int) -> Block:
    """The hidden block every head here uses: Linear(no bias)-BN-ReLU (the bias would be cancelled by BN)."""
    return Block(width, bias=False, bn="affine", relu=True)


def build_mlp(in_dim: int, blocks: list[Block]) -> nn.Sequential:
    """The one builder of every MLP head (projectors, predictors, AugSelf's heads, CASSLE's
    augmentation encoder): the blocks in order, as one flat nn.Sequential."""
    layers, d = [], in_dim
    for block in blocks:
        layers.append(nn.Linear(d, block.out, bias=block.bias))
        if block.bn is not None:
            layers.append(nn.BatchNorm1d(block.out, affine=block.bn == "affine"))
        if block.relu:
            layers.append(nn.ReLU(inplace=True))
        d = block.out
    return nn.Sequential(*layers)


def mlp(dims: list[int], bn_last: bool = False) -> nn.Sequential:
    """Linear-BN-ReLU for every hidden layer, then a Linear (+ BN without affine if bn_last)."""
    return build_mlp(dims[0], [hidden_block(d) for d in dims[1:-1]]
                     + [Block(dims[-1], bias=not bn_last, bn="plain" if bn_last else None)])


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
