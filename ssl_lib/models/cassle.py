"""CASSLE (Przewiezlikowski et al.): a projector conditioned on the view's augmentation parameters.

The projector g(y, e(d)) receives the backbone features y and an embedding e(d) of the view's
descriptor d (`AugParams.descriptor(keys)`), so it can "explain away" what the augmentation
changed and the backbone need not become invariant to it. The backbone never sees d; at
evaluation time the backbone alone is used. Injections of e(d):
    concat  g([y, e(d)])                              (the authors' default)
    add     g(y + A e(d))
    mul     g(y * (1 + A e(d)))                       (identity when A e(d) = 0)
    hyper   a hypernetwork: the first projector layer's weight is generated per view,
            W(d) = W0 + U diag(h(e(d))) V^T (rank = encoder width), so it scales to wide backbones.
`descriptors="shuffled"` permutes descriptors across the batch: the sensitivity analysis' control
(the projector is conditioned, but on the wrong view's parameters).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ssl_lib.augment import AugParams, DEFAULT_DESCRIPTOR_KEYS, descriptor_dim
from ssl_lib.augment.params import validate_descriptor_keys
from ssl_lib.models.heads import mlp

INJECTIONS = ("concat", "add", "mul", "hyper")
DESCRIPTOR_MODES = ("matched", "shuffled")


def augmentation_encoder(in_dim: int, depth: int, width: int) -> nn.Sequential:
    """`depth` Linear-BN-ReLU blocks of `width` (the authors' recipe: depth 6, width 64)."""
    layers, d = [], in_dim
    for _ in range(depth):
        layers += [nn.Linear(d, width, bias=False), nn.BatchNorm1d(width), nn.ReLU(inplace=True)]
        d = width
    return nn.Sequential(*layers)


class ConditionedProjector(nn.Module):
    """Projector conditioned on the augmentation descriptor; same output as the plain projector.

    forward(features (B, in_dim), params with B rows) -> (B, out_dim).
    """

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int, bn_last: bool,
                 keys=DEFAULT_DESCRIPTOR_KEYS, injection: str = "concat", depth: int = 6, width: int = 64,
                 descriptors: str = "matched"):
        super().__init__()
        if injection not in INJECTIONS:
            raise ValueError(f"unknown CASSLE injection {injection!r}; known: {list(INJECTIONS)}")
        if descriptors not in DESCRIPTOR_MODES:
            raise ValueError(f"unknown CASSLE descriptors mode {descriptors!r}; known: {list(DESCRIPTOR_MODES)}")
        if depth < 1 or width < 1:
            raise ValueError(f"CASSLE encoder depth and width must be >= 1, got {depth}, {width}")
        self.keys = validate_descriptor_keys(keys)
        self.injection, self.descriptors = injection, descriptors
        self.encoder = augmentation_encoder(descriptor_dim(self.keys), depth, width)
        dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
        if injection == "concat":
            self.net = mlp([in_dim + width] + dims[1:], bn_last)
        else:
            self.net = mlp(dims, bn_last)
        if injection in ("add", "mul"):
            self.to_features = nn.Linear(width, in_dim)
            nn.init.zeros_(self.to_features.weight)  # starts as the plain projector
            nn.init.zeros_(self.to_features.bias)
        if injection == "hyper":
            first = self.net[0]  # Linear(in_dim, dims[1]): its weight is W0
            self.u = nn.Parameter(torch.randn(first.out_features, width) / width ** 0.5)
            self.v = nn.Parameter(torch.randn(in_dim, width) / in_dim ** 0.5)
            self.to_scales = nn.Linear(width, width)
            nn.init.zeros_(self.to_scales.weight)
            nn.init.zeros_(self.to_scales.bias)

    def embed(self, params: AugParams, device, dtype) -> Tensor:
        """(B, width) embedding of the descriptors (shuffled across the batch in "shuffled" mode)."""
        d = params.descriptor(self.keys).to(device=device, dtype=dtype)
        if self.descriptors == "shuffled":
            d = d[torch.randperm(d.shape[0], device=device)]
        return self.encoder(d)

    def forward(self, features: Tensor, params: AugParams) -> Tensor:
        if params is None or len(params) != features.shape[0]:
            raise ValueError("the CASSLE projector needs the views' AugParams, one row per feature row")
        e = self.embed(params, features.device, features.dtype)
        if self.injection == "concat":
            return self.net(torch.cat([features, e], dim=1))
        if self.injection == "add":
            return self.net(features + self.to_features(e))
        if self.injection == "mul":
            return self.net(features * (1 + self.to_features(e)))
        # hyper: y W(d)^T = y W0^T + ((y V) * h) U^T, one low-rank correction per sample
        first, rest = self.net[0], self.net[1:]
        h = self.to_scales(e)
        x = first(features) + ((features @ self.v) * h) @ self.u.T
        return rest(x)


def cassle_projector_factory(keys=DEFAULT_DESCRIPTOR_KEYS, injection="concat", depth=6, width=64,
                             descriptors="matched"):
    """A projector factory for `ssl_lib.models.methods.build_method` that builds ConditionedProjectors."""
    def factory(in_dim, hidden, out_dim, layers, bn_last):
        return ConditionedProjector(in_dim, hidden, out_dim, layers, bn_last, keys, injection, depth, width,
                                    descriptors)
    return factory
