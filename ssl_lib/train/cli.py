"""Command line for pretraining; every TrainConfig field is a flag.

    python -m ssl_lib.pretrain --method byol --recipe byol --epochs 5 --output-dir runs/byol
    python -m ssl_lib.pretrain --config runs/byol/config.json --resume
    torchrun --nproc_per_node=4 -m ssl_lib.pretrain --backbone resnet18 --dataset cifar10 --data-root data

A failure prints one line, ``error: ...``, and exits with 2 for bad input (a flag, the config
file, a config a checkpoint cannot resume, missing data) or 1 for a failed run (diverged, the
output folder busy or not writable, a full disk).
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from dataclasses import fields

from ssl_lib.data import DatasetNotFoundError
from ssl_lib.models.config import ModelConfig
from ssl_lib.train.config import TrainConfig
from ssl_lib.train.engine import TrainingDiverged, train
from ssl_lib.train.run_dir import RunDirBusy
from ssl_lib.utils import distributed as dist
from ssl_lib.utils.cli import OneLineParser, print_error


def _flag_type(hint):
    """int | None -> int; plain types unchanged."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m ssl_lib.pretrain", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="JSON file of TrainConfig fields; flags given override it")
    parser.add_argument("--resume", action="store_true", help="continue from output_dir/checkpoint.pt")
    hints = typing.get_type_hints(TrainConfig)
    model_fields = {f.name for f in fields(ModelConfig)}
    groups = {True: parser.add_argument_group("model (backbone, method, heads, AugSelf, CASSLE, feature augmentation)"),
              False: parser.add_argument_group("data, views, optimisation and runtime")}
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = _flag_type(hints[f.name])
        group = groups[f.name in model_fields]
        if kind is bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                               help=f"default: {f.default}")
        else:
            group.add_argument(flag, dest=f.name, type=kind, default=None, help=f"default: {f.default}")
    return parser


def read_config_file(path) -> dict:
    """The TrainConfig fields of a JSON file; ValueError naming the file if it cannot be used."""
    try:
        with open(path) as handle:
            values = json.load(handle)
    except OSError as err:
        raise ValueError(f"--config {path}: {err.strerror or err}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"--config {path} is not valid JSON: {err}") from None
    if not isinstance(values, dict):
        raise ValueError(f"--config {path} must hold a JSON object of TrainConfig fields, got {type(values).__name__}")
    return values


def config_from_args(argv=None) -> tuple[TrainConfig, bool]:
    """Parse argv into a validated TrainConfig (errors name the field) and the resume flag.
    ValueError (TypeError for a wrong type in the config file) on bad input."""
    args = vars(build_parser().parse_args(argv))
    resume = args.pop("resume")
    path = args.pop("config")
    values = read_config_file(path) if path else {}
    values.update({k: v for k, v in args.items() if v is not None})
    return TrainConfig.from_dict(values), resume


def main(argv=None) -> int:
    """Run the command; 0 on success, else one `error:` line and 2 (bad input) or 1 (failed run)."""
    try:
        cfg, resume = config_from_args(argv)
    except (ValueError, TypeError) as error:
        return print_error(error, 2)
    try:
        train(cfg, resume=resume)
    except (ValueError, TypeError, DatasetNotFoundError) as error:  # the config, a checkpoint, the data
        return print_error(error, 2)
    except (TrainingDiverged, RunDirBusy, OSError) as error:  # OSError: unwritable folder, full disk
        return print_error(error, 1)
    finally:
        dist.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
