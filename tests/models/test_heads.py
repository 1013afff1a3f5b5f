"""The one MLP builder behind every head (block specs), checked layer by layer."""

import pytest
from torch import nn

from ssl_lib.models.heads import Block, build_mlp, hidden_block, mlp


def layer_kinds(net: nn.Sequential) -> list[tuple]:
    kinds = []
    for layer in net:
        if isinstance(layer, nn.Linear):
            kinds.append(("linear", layer.in_features, layer.out_features, layer.bias is not None))
        elif isinstance(layer, nn.BatchNorm1d):
            kinds.append(("bn", layer.num_features, layer.affine))
        else:
            kinds.append((type(layer).__name__.lower(),))
    return kinds


def test_blocks_become_linear_bn_relu_in_order():
    net = build_mlp(8, [hidden_block(16), Block(16, bias=True, bn="affine", relu=True), Block(4, bn="plain")])
    assert layer_kinds(net) == [("linear", 8, 16, False), ("bn", 16, True), ("relu",),
                                ("linear", 16, 16, True), ("bn", 16, True), ("relu",),
                                ("linear", 16, 4, True), ("bn", 4, False)]


def test_mlp_is_hidden_blocks_then_a_last_linear():
    assert layer_kinds(mlp([8, 32, 32, 4])) == [("linear", 8, 32, False), ("bn", 32, True), ("relu",),
                                                ("linear", 32, 32, False), ("bn", 32, True), ("relu",),
                                                ("linear", 32, 4, True)]
    assert layer_kinds(mlp([8, 4], bn_last=True)) == [("linear", 8, 4, False), ("bn", 4, False)]


def test_an_unknown_batch_norm_kind_is_refused():
    with pytest.raises(ValueError, match="Block.bn must be None, 'affine' or 'plain', got 'layer'"):
        Block(4, bn="layer")
