"""The per-sample record of what an augmentation pipeline did, and the vectors built from it.

`AugParams` holds one row per image for every op of the pipeline (identity values where an op
was not applied), so a batch's views can be replayed exactly, and the two consumers of the
papers can be computed from it:

* `AugParams.descriptor` -- CASSLE's per-view conditioning vector;
* `augself_targets` -- AugSelf's per-group differences between two views.

Which ops exist, what each records and how its descriptor block and AugSelf target are computed
is declared once per op in `ssl_lib.augment.ops`; this module reads that registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import torch
from torch import Tensor

from ssl_lib.augment import ops
from ssl_lib.augment.ops import augself_crop_target  # noqa: F401 -- part of this module's API

DEFAULT_DESCRIPTOR_KEYS = ("blur", "color", "color_shift", "crop", "grayscale")  # 13 dims, CASSLE's default


@dataclass
class AugParams:
    """What a pipeline did to each of B images. All fields are tensors with batch dimension first.

    Attributes:
        crop_box: (B, 4) int64 top, left, height, width of the crop in source pixels.
        source_size: (B, 2) int64 source height, width.
        flip: (B,) bool horizontal flip.
        jitter_applied: (B,) bool whether colour jitter ran.
        jitter_factors: (B, 4) brightness, contrast, saturation factors and hue shift;
            identity (1, 1, 1, 0) when not applied.
        jitter_order: (B, 4) int64 permutation of 0..3 (brightness, contrast, saturation, hue).
        jitter_range: (B, 4) width (max - min) of each factor's sampling range, the AugSelf
            normalisation; kept per sample so views from different recipes can be mixed.
        grayscale: (B,) bool.
        blur_sigma: (B,) float, 0 when not blurred.
        solarize: (B,) bool.
        solarize_threshold: (B,) float, the threshold a solarized view was inverted at (pixels
            >= threshold); 1.0 when not solarized (AugSelf's per-view solarize value).
        rotation_k: (B,) int64 counter-clockwise quarter turns.
        color_shift: (B, 3) per-channel mean before jitter minus after (0 when not jittered).
        extra: the fields of ops registered beyond these (`ssl_lib.augment.ops.register`), by
            name; read them as attributes too (``params.toy_amount``).
    """

    crop_box: Tensor
    source_size: Tensor
    flip: Tensor
    jitter_applied: Tensor
    jitter_factors: Tensor
    jitter_order: Tensor
    jitter_range: Tensor
    grayscale: Tensor
    blur_sigma: Tensor
    solarize: Tensor
    solarize_threshold: Tensor
    rotation_k: Tensor
    color_shift: Tensor
    extra: dict[str, Tensor] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Tensor:
        # only reached for names that are not fields: a registered op's recorded values
        extra = self.__dict__.get("extra") or {}
        if name in extra:
            return extra[name]
        raise AttributeError(f"AugParams has no field {name!r}")

    @classmethod
    def from_values(cls, values: dict[str, Tensor]) -> "AugParams":
        """An AugParams from every recorded field by name, the registered ops' ones included
        (ValueError naming a name no registered op records)."""
        _check_recorded(values)
        builtin = {k: v for k, v in values.items() if ops.builtin_field(k)}
        return cls(**builtin, extra={k: v for k, v in values.items() if not ops.builtin_field(k)})

    def with_values(self, **values: Tensor) -> "AugParams":
        """A copy with some fields (built-in or registered) replaced."""
        return AugParams.from_values({**self.as_dict(), **values})

    def __len__(self) -> int:
        return self.flip.shape[0]

    def as_dict(self) -> dict[str, Tensor]:
        """All recorded fields as a plain dict of per-sample tensors (the serialisable form)."""
        return {**{f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}, **self.extra}

    @classmethod
    def from_dict(cls, values: dict[str, Tensor]) -> "AugParams":
        """Inverse of `as_dict`; raises ValueError naming missing or unknown keys."""
        names = ops.recorded_fields()
        missing, unknown = names - values.keys(), values.keys() - names
        if missing or unknown:
            raise ValueError(f"AugParams keys: missing {sorted(missing)}, unknown {sorted(unknown)}")
        params = cls.from_values(values)
        params._check_batch()
        return params

    def _check_batch(self) -> None:
        sizes = {name: t.shape[0] for name, t in self.as_dict().items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"AugParams fields disagree on batch size: {sizes}")

    def _map(self, fn) -> "AugParams":
        return AugParams.from_values({name: fn(t) for name, t in self.as_dict().items()})

    def to(self, device) -> "AugParams":
        """Copy to `device`."""
        return self._map(lambda t: t.to(device))

    def __getitem__(self, index) -> "AugParams":
        """Select samples with an int slice, index tensor or bool mask (batch dim kept)."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return self._map(lambda t: t[index])

    @staticmethod
    def cat(parts: list["AugParams"]) -> "AugParams":
        """Concatenate along the batch dimension."""
        if not parts:
            raise ValueError("AugParams.cat needs at least one AugParams")
        values = [p.as_dict() for p in parts]
        return AugParams.from_values({name: torch.cat([v[name] for v in values]) for name in values[0]})

    def save(self, path) -> None:
        """Write to `path` with torch.save, atomically (temporary file, then rename)."""
        from ssl_lib.utils.io import atomic_torch_save
        atomic_torch_save({k: v.cpu() for k, v in self.as_dict().items()}, path)

    @classmethod
    def load(cls, path, map_location="cpu") -> "AugParams":
        """Read what `save` wrote (tensors only: loaded with weights_only=True)."""
        return cls.from_dict(torch.load(path, map_location=map_location, weights_only=True))

    # -- the vectors the papers consume -------------------------------------------------------

    def crop_vector(self, mirror: bool = True) -> Tensor:
        """(B, 4) float crop centre_y, centre_x, height, width over the source size.

        With `mirror` (the default, CASSLE's descriptor) centre_x is mirrored (1 - centre_x) for
        flipped views, so it says where the view's left edge content came from; mirror=False
        gives the box as drawn in the source (what AugSelf's crop target starts from).
        """
        top, left, height, width = self.crop_box.float().unbind(1)
        src_h, src_w = self.source_size.float().unbind(1)
        centre_y = (top + height / 2) / src_h
        centre_x = (left + width / 2) / src_w
        if mirror:
            centre_x = torch.where(self.flip, 1 - centre_x, centre_x)
        return torch.stack([centre_y, centre_x, height / src_h, width / src_w], dim=1)

    def solarize_value(self) -> Tensor:
        """(B,) float AugSelf's per-view solarize value: the threshold where solarized, else 1."""
        value = self.solarize_threshold.float()
        return torch.where(self.solarize, value, torch.ones_like(value))

    def color_vector(self) -> Tensor:
        """(B, 4) jitter factors normalised as AugSelf: (f - 1) / range for brightness,
        contrast, saturation and hue / range; 0 when jitter was not applied or a range is 0."""
        factors = self.jitter_factors.float()
        # minus the identity (1, 1, 1, 0), built on the device (a host tensor here would sync)
        centred = torch.cat([factors[:, :3] - 1, factors[:, 3:]], dim=1)
        span = self.jitter_range.float()
        scaled = centred / torch.where(span > 0, span, torch.ones_like(span))
        return torch.where(self.jitter_applied[:, None], scaled, torch.zeros_like(scaled))

    def descriptor(self, keys=DEFAULT_DESCRIPTOR_KEYS) -> Tensor:
        """CASSLE's per-view conditioning vector (B, D), blocks in sorted key order.

        Layout for the default keys (D = 13): blur sigma | colour factors (4) | colour mean
        shift (3) | crop centre_y, centre_x, h, w (4) | grayscale flag. See `descriptor_layout`.
        """
        keys = validate_descriptor_keys(keys)
        blocks = ops.descriptor_blocks()
        return torch.cat([blocks[key].vector(self) for key in keys], dim=1)


ops.reserve_attributes("records", (name for name in dir(AugParams) if not name.startswith("__")))


def _check_recorded(values) -> None:
    unknown = sorted(set(values) - ops.recorded_fields())
    if unknown:
        raise ValueError(f"AugParams: no registered op records {unknown}")


def validate_descriptor_keys(keys) -> tuple[str, ...]:
    """Sorted, de-duplicated descriptor keys; ValueError naming any unknown key."""
    if isinstance(keys, str):
        keys = (keys,)
    known = ops.descriptor_blocks()
    unknown = sorted(set(keys) - known.keys())
    if unknown or not keys:
        raise ValueError(f"descriptor keys {unknown or '(none)'} are not among {sorted(known)}")
    return tuple(sorted(set(keys)))


def descriptor_dim(keys=DEFAULT_DESCRIPTOR_KEYS) -> int:
    """Width D of `AugParams.descriptor(keys)`."""
    blocks = ops.descriptor_blocks()
    return sum(len(blocks[k].columns) for k in validate_descriptor_keys(keys))


def augself_outputs() -> dict[str, tuple[str, ...]]:
    """AugSelf group -> the names of its head's outputs (rotation: the logits of its 4 classes)."""
    return {group: target.outputs for group, target in ops.augself_groups().items()}


def augself_targets(params1: AugParams, params2: AugParams, groups=None) -> dict[str, Tensor]:
    """AugSelf's prediction targets d(t1, t2) per augmentation group (default: all), for B view pairs.

    Returns a dict with the requested groups, each as the authors' `extract_diff` computes it:
        crop (B, 4): centre_y, centre_x, h, w differences, both centres mirrored by view 1's
            flip (`augself_crop_target`);
        color (B, 4): normalised jitter factor difference (0 for an unjittered view's factors);
        flip (B, 1): 1.0 where both views have the same flip state (BCE target);
        blur (B, 1): sigma1 - sigma2 (0 for an unblurred view; not normalised);
        rotation (B,): int64 class (k1 - k2) mod 4 (CE target);
        solarize (B, 1): v1 - v2 with v the view's solarize threshold, 1 when not solarized;
    and a registered op's target as it declares it (`ssl_lib.augment.ops.AugSelfTarget`).
    The reverse pair's targets are augself_targets(params2, params1).
    """
    if len(params1) != len(params2):
        raise ValueError(f"params1 and params2 must describe the same batch, got {len(params1)} and {len(params2)}")
    known = ops.augself_groups()
    groups = list(known) if groups is None else list(groups)
    unknown = sorted(set(groups) - set(known))
    if unknown:
        raise ValueError(f"unknown AugSelf groups {unknown}; known: {list(known)}")
    return {group: known[group].target(params1, params2) for group in groups}


def descriptor_columns(keys=DEFAULT_DESCRIPTOR_KEYS) -> list[str]:
    """One name per column of `AugParams.descriptor(keys)`, e.g. "crop.centre_y"."""
    blocks = ops.descriptor_blocks()
    return [f"{key}.{column}" for key in validate_descriptor_keys(keys) for column in blocks[key].columns]


def descriptor_layout(keys=DEFAULT_DESCRIPTOR_KEYS) -> list[dict]:
    """The blocks of `AugParams.descriptor(keys)` in order: key, width, first and last column
    index, and what the block means."""
    layout, start, blocks = [], 0, ops.descriptor_blocks()
    for key in validate_descriptor_keys(keys):
        width = len(blocks[key].columns)
        layout.append(dict(key=key, width=width, first=start, last=start + width - 1, meaning=blocks[key].meaning))
        start += width
    return layout
