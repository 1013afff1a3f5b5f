"""Pretraining throughput: views/s per method and the share of each step spent augmenting.

    python benchmarks/train_throughput.py                  # CPU: embedded default (small_cnn, 32 px)
    python benchmarks/train_throughput.py --device cuda --backbone resnet18 --batch-size 512
    python benchmarks/train_throughput.py --epoch          # + one real epoch of 10,000 images via train()
    python benchmarks/train_throughput.py --methods simclr,byol --variants baseline,augself,cassle,feature_aug

Every method runs the same timed steps on the same data, in one process, one after another:
augmentation of both views, forward (bf16 autocast on CUDA), backward, optimiser step and target
update. Augmentation is timed separately inside each step (synchronised on CUDA), so its share
is measured, not estimated. `--epoch` also times `ssl_lib.train.train` for one epoch of
`--epoch-images` synthetic images with the default TrainConfig, the CPU target of the README.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from contextlib import nullcontext

import torch

from ssl_lib.models.methods import METHODS
from ssl_lib.train.config import TrainConfig
from ssl_lib.data import make_synthetic, to_float
from ssl_lib.utils.io import atomic_write_json
from ssl_lib.train.optim import build_optimizer
from ssl_lib.train.engine import build_model, resolve_runtime, train, view_pipelines

RECIPE_OF = {"byol": "byol"}  # the other methods use the config's default recipe
# Augmentation-aware variants compared with the plain method (each at the authors' defaults).
VARIANTS = {
    "baseline": {},
    "augself": dict(augself="crop,color"),
    "cassle": dict(cassle=True),
    "feature_aug": dict(feature_aug="noise"),
}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_method(cfg: TrainConfig, images: torch.Tensor, steps: int, warmup: int) -> dict:
    """Median step time and augmentation time of `steps` training steps of cfg.method."""
    runtime = resolve_runtime(cfg)
    device = runtime.device
    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(device)
    if runtime.channels_last:
        model = model.to(memory_format=torch.channels_last)
    step_model = torch.compile(model) if cfg.compile else model
    optimizer = build_optimizer(cfg.optimizer, model, cfg.base_lr, cfg.weight_decay, cfg.sgd_momentum)
    pipeline1, pipeline2 = view_pipelines(cfg)
    generator = torch.Generator(device=device).manual_seed(0)
    autocast = torch.autocast(device.type, dtype=runtime.autocast_dtype) if runtime.autocast_dtype else nullcontext()
    n = images.shape[0] // cfg.batch_size
    step_times, aug_times = [], []
    for step in range(warmup + steps):
        batch = images[(step % n) * cfg.batch_size: (step % n + 1) * cfg.batch_size]
        _sync(device)
        start = time.perf_counter()
        x = to_float(batch)
        if runtime.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        views1, params1 = pipeline1(x, generator)
        views2, params2 = pipeline2(x, generator)
        _sync(device)
        augmented = time.perf_counter()
        with autocast:
            loss = step_model(views1, views2, params1, params2)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.float().backward()
        optimizer.step()
        model.update_target(step / (warmup + steps))
        _sync(device)
        end = time.perf_counter()
        if step >= warmup:
            step_times.append(end - start)
            aug_times.append(augmented - start)
    step_s = sorted(step_times)[len(step_times) // 2]
    aug_s = sorted(aug_times)[len(aug_times) // 2]
    return dict(method=cfg.method, batch=cfg.batch_size, step_ms=step_s * 1e3, aug_ms=aug_s * 1e3,
                views_per_s=2 * cfg.batch_size / step_s, aug_share=aug_s / step_s)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backbone", default=None, help="default: resnet18 on CUDA, small_cnn on CPU")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 512 on CUDA, 256 on CPU")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--variants", default="baseline", help=f"comma-separated from {list(VARIANTS)}")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--epoch", action="store_true", help="also time one epoch of train() (default config)")
    parser.add_argument("--epoch-images", type=int, default=10_000)
    parser.add_argument("--json", help="write results here")
    args = parser.parse_args(argv)

    cuda = args.device.startswith("cuda")
    if not cuda:
        torch.set_num_threads(args.threads)
    base = TrainConfig(device=args.device, image_size=args.image_size, compile=args.compile, progress=False,
                       backbone=args.backbone or ("resnet18" if cuda else "small_cnn"),
                       batch_size=args.batch_size or (512 if cuda else 256))
    device_name = torch.cuda.get_device_name() if cuda else \
        f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    images, _ = make_synthetic((args.warmup + args.steps) * base.batch_size, base.image_size, seed=0,
                               device=args.device, dtype=torch.uint8)
    print(f"device: {device_name}; torch {torch.__version__}; {base.backbone}, {base.image_size} px, "
          f"batch {base.batch_size}, median of {args.steps} steps after {args.warmup} warm-up")
    variants = args.variants.split(",")
    unknown = sorted(set(variants) - VARIANTS.keys())
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; known: {list(VARIANTS)}")
    print(f"{'method':<13} {'variant':<12} {'step ms':>9} {'aug ms':>8} {'views/s':>9} {'aug share':>10} "
          f"{'vs baseline':>12}")
    rows = []
    for method in args.methods.split(","):
        baseline_ms = None
        for variant in variants:
            cfg = base.replace(method=method, recipe=RECIPE_OF.get(method, base.recipe), **VARIANTS[variant])
            row = dict(bench_method(cfg, images, args.steps, args.warmup), variant=variant)
            baseline_ms = row["step_ms"] if variant == "baseline" else baseline_ms
            row["extra_step_time"] = row["step_ms"] / baseline_ms - 1 if baseline_ms else None
            rows.append(row)
            extra = f"{100 * row['extra_step_time']:+.1f}%" if row["extra_step_time"] is not None else ""
            print(f"{method:<13} {variant:<12} {row['step_ms']:>9.1f} {row['aug_ms']:>8.2f} "
                  f"{row['views_per_s']:>9.0f} {100 * row['aug_share']:>9.1f}% {extra:>12}")
    report = dict(device=device_name, torch=torch.__version__, backbone=base.backbone, image_size=base.image_size,
                  batch=base.batch_size, steps=args.steps, methods=rows)
    if args.epoch:
        with tempfile.TemporaryDirectory() as out:
            cfg = TrainConfig(device=args.device, epochs=1, n_train=args.epoch_images, warmup_epochs=0.0,
                              progress=False, output_dir=out)
            metrics = train(cfg)
        report["epoch"] = dict(images=args.epoch_images, seconds=metrics["epoch_seconds"],
                               views_per_s=metrics["views_per_second"], knn_top1=metrics["knn_top1"])
        print(f"one epoch of {args.epoch_images} images with the default TrainConfig "
              f"({cfg.backbone}, {cfg.method}, batch {cfg.batch_size}): {metrics['epoch_seconds']:.1f} s")
    if args.json:
        atomic_write_json(report, args.json)
    return report


if __name__ == "__main__":
    main()
