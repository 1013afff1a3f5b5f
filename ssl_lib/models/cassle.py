"""CASSLE (Przewiezlikowski et al.): a projector conditioned on the view's augmentation parameters.

The projector g(y, e(d)) receives the backbone features y and an embedding e(d) of the view's
descriptor d (`AugParams.descriptor(keys)`), so it can "explain away" what the augmentation
changed and the backbone need not become invariant to it. The backbone never sees d; at
evaluation time the backbone alone is used.

The augmentation encoder e is the authors' `load_mlp(num_layers=depth)`: (depth - 1) blocks of
Linear(no bias)-BN-ReLU of `width`, then Linear(no bias)-BatchNorm1d(affine) with no final ReLU
(README recipe: depth 6, width 64, next to ResNet-50's 2048 features). The width defaults to that
proportion of the backbone's feature width C (`scaled_width`: 64 at C = 2048, 16 for ResNet-18's
512, 4 for the embedded small_cnn's 128): at 64 next to 128 features the embedding is a third of
the concatenated projector input and, measured on the embedded bench, the backbone learns no more
shape than at random initialisation (docs/papers.md, deviations). Injections, as the authors'
`AugProjector`:
    concat   g([y, e(d)]), e(d) of `width`                           (proj-cat, their default)
    add      g(y + e(d)), e(d) of the feature width C                  (proj-add)
    mul      g(y * e(d)), e(d) of the feature width C, no 1 + or gate   (proj-mul)
    hyper    the authors' hypernetwork (aug-treatment hn): e(d) has one output per weight and
             bias of every projector layer, and each sample's projector is built from its own
             e(d): h <- h W_l(d) + b_l(d), ReLU between layers, no BN, no static projector;
             layer sizes C -> C -> ... -> out (the hidden width is the feature width C, the
             method's hidden width and final BN are not used). Cost: the encoder's last Linear
             has width x N weights and each step materialises B x N generated values, with
             N = sum_l (in_l * out_l + out_l) (C = 2048, out 128, 2 layers: N = 4.5M, a 288M
             parameter layer at width 64 and 4.6 GB per batch of 256 in float32), so it is meant
             for small heads.
    lowrank  our own variant, not the authors': a per-view low-rank correction of the first
             projector layer only, W(d) = W0 + U diag(h(e(d))) V^T (rank = width), zero-
             initialised so it starts as the plain projector; it scales to wide backbones.
`descriptors="shuffled"` permutes descriptors across the batch: the sensitivity analysis' control
(the projector is conditioned, but on the wrong view's parameters).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ssl_lib.augment import AugParams, DEFAULT_DESCRIPTOR_KEYS, descriptor_dim
from ssl_lib.augment.params import validate_descriptor_keys
from ssl_lib.models.heads import Block, build_mlp, hidden_block, mlp

INJECTIONS = ("concat", "add", "mul", "hyper", "lowrank")
DESCRIPTOR_MODES = ("matched", "shuffled")
AUTHORS_WIDTH, AUTHORS_FEATURE_DIM = 64, 2048  # the README recipe's width, next to ResNet-50's features


def scaled_width(feature_dim: int) -> int:
    """The encoder width that keeps the authors' proportion to the backbone's feature width:
    round(64 * feature_dim / 2048), at least 1 (64 for ResNet-50, 16 for ResNet-18, 4 for 128)."""
    return max(1, round(AUTHORS_WIDTH * feature_dim / AUTHORS_FEATURE_DIM))


@dataclass(frozen=True)
class CassleSettings:
    """CASSLE's part of a model: which descriptor keys condition the projector, how the encoded
    descriptor is injected, the descriptor encoder's depth and width, and whether each view gets
    its own descriptor ("matched") or another view's ("shuffled", the control). ModelConfig's flat
    fields cassle_keys, cassle_injection, cassle_depth, cassle_width, cassle_descriptors.
    `width` None is `scaled_width` of the backbone's feature width, resolved when the projector
    is built."""

    keys: tuple[str, ...] = DEFAULT_DESCRIPTOR_KEYS
    injection: str = "concat"
    depth: int = 6
    width: int | None = None
    descriptors: str = "matched"

    def __post_init__(self):
        if self.injection not in INJECTIONS:
            raise ValueError(f"unknown CASSLE injection {self.injection!r}; known: {list(INJECTIONS)}")
        if self.descriptors not in DESCRIPTOR_MODES:
            raise ValueError(f"unknown CASSLE descriptors mode {self.descriptors!r}; known: {list(DESCRIPTOR_MODES)}")
        if self.depth < 1 or (self.width is not None and self.width < 1):
            raise ValueError(f"CASSLE encoder depth and width must be >= 1, got {self.depth}, {self.width}")
        object.__setattr__(self, "keys", validate_descriptor_keys(self.keys))

    def projector_factory(self):
        """A projector factory for `ssl_lib.models.methods.build_method` that builds
        ConditionedProjectors with these settings."""
        def factory(in_dim, hidden, out_dim, layers, bn_last):
            return ConditionedProjector(in_dim, hidden, out_dim, layers, bn_last, self.keys, self.injection, self.depth,
                                        self.width, self.descriptors)
        return factory


def augmentation_encoder(in_dim: int, depth: int, width: int, out_dim: int | None = None) -> nn.Sequential:
    """The authors' `load_mlp(in_dim, width, out_dim, num_layers=depth, last_bn=True)`:
    (depth - 1) x [Linear(no bias)-BN-ReLU] of `width`, then Linear(no bias) to `out_dim`
    (default `width`) and BatchNorm1d(affine), with no ReLU at the end."""
    out_dim = width if out_dim is None else out_dim
    return build_mlp(in_dim, [hidden_block(width)] * (depth - 1) + [Block(out_dim, bias=False, bn="affine")])


class ConditionedProjector(nn.Module):
    """Projector conditioned on the augmentation descriptor; same output as the plain projector.

    forward(features (B, in_dim), params with B rows) -> (B, out_dim).
    """

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int, bn_last: bool,
                 keys=DEFAULT_DESCRIPTOR_KEYS, injection: str = "concat", depth: int = 6, width: int | None = None,
                 descriptors: str = "matched"):
        super().__init__()
        settings = CassleSettings(tuple(keys) if not isinstance(keys, str) else (keys,), injection, depth, width,
                                  descriptors)
        width = scaled_width(in_dim) if width is None else width
        self.width = width
        self.keys, self.injection, self.descriptors = settings.keys, injection, descriptors
        d_in = descriptor_dim(self.keys)
        dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
        if injection == "hyper":
            # One (in, out) weight and (out,) bias per layer, C -> C -> ... -> out_dim.
            sizes = [in_dim] * layers + [out_dim]
            self.layer_sizes = list(zip(sizes[:-1], sizes[1:]))
            generated = sum(n_in * n_out + n_out for n_in, n_out in self.layer_sizes)
            self.encoder = augmentation_encoder(d_in, depth, width, generated)
            return
        self.encoder = augmentation_encoder(d_in, depth, width, in_dim if injection in ("add", "mul") else width)
        if injection == "concat":
            self.net = mlp([in_dim + width] + dims[1:], bn_last)
        else:
            self.net = mlp(dims, bn_last)
        if injection == "lowrank":
            first = self.net[0]  # Linear(in_dim, dims[1]): its weight is W0
            self.u = nn.Parameter(torch.randn(first.out_features, width) / width ** 0.5)
            self.v = nn.Parameter(torch.randn(in_dim, width) / in_dim ** 0.5)
            self.to_scales = nn.Linear(width, width)
            nn.init.zeros_(self.to_scales.weight)
            nn.init.zeros_(self.to_scales.bias)

    def embed(self, params: AugParams, device, dtype) -> Tensor:
        """(B, encoder output) embedding e(d) of the descriptors (shuffled across the batch in
        "shuffled" mode): `width` for concat and lowrank, the feature width for add and mul, the
        generated projector weights for hyper."""
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
            return self.net(features + e)
        if self.injection == "mul":
            return self.net(features * e)
        if self.injection == "hyper":
            return self._hyper(features, e)
        # lowrank: y W(d)^T = y W0^T + ((y V) * h) U^T, one low-rank correction per sample
        first, rest = self.net[0], self.net[1:]
        h = self.to_scales(e)
        x = first(features) + ((features @ self.v) * h) @ self.u.T
        return rest(x)

    def _hyper(self, features: Tensor, generated: Tensor) -> Tensor:
        """The authors' AugProjector(hn).forward: per-sample bmm with the generated weights."""
        batch = features.shape[0]
        h, start = features.unsqueeze(1), 0
        for index, (n_in, n_out) in enumerate(self.layer_sizes):
            weight = generated[:, start:start + n_in * n_out].reshape(batch, n_in, n_out)
            start += n_in * n_out
            bias = generated[:, start:start + n_out].reshape(batch, 1, n_out)
            start += n_out
            h = torch.baddbmm(bias, h, weight)
            if index != len(self.layer_sizes) - 1:
                h = torch.relu(h)
        return h.squeeze(1)
