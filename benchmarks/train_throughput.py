"""Pretraining throughput: views/s per method and the share of each step spent augmenting.

    python benchmarks/train_throughput.py                  # CPU: embedded default (small_cnn, 32 px)
    python benchmarks/train_throughput.py --device cuda --backbone resnet18 --batch-size 512
    python benchmarks/train_throughput.py --epoch          # + one real epoch of 10,000 images via train()
    python benchmarks/train_throughput.py --methods simclr,byol --variants baseline,augself,cassle,feature_aug
    python benchmarks/train_throughput.py --profile cpu --levers   # CPU levers side by side (below)

Every method runs the same timed steps on the same data, in one process, one after another:
augmentation of both views, forward (bf16 autocast on CUDA), backward, optimiser step and target
update. Augmentation is timed separately inside each step (synchronised on CUDA), so its share
is measured, not estimated. `--epoch` also times `ssl_lib.train.train` for one epoch of
`--epoch-images` synthetic images with the default TrainConfig, the CPU target of the README.

`--levers` times, in one process and interleaved round by round (machines here are noisy), the
step of `--profile`'s config (default: cpu) under each CPU lever: eager vs `torch.compile` of the
`TrainStep`, fp32 vs bf16 autocast, 1 vs 2 threads. It prints each lever's median step, its
ratio to eager fp32 at the same threads, and the compile time, which a run pays once (less with
inductor's on-disk cache, also measured: a second compile of the same graph in this process is
timed after `torch._dynamo.reset()`).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time

import torch

from ssl_lib.models.methods import METHODS
from ssl_lib.train.config import TrainConfig
from ssl_lib.data import make_synthetic
from ssl_lib.utils.io import atomic_write_json
from ssl_lib.train.optim import build_optimizer
from ssl_lib.data import to_float
from ssl_lib.train.engine import build_step, placed_model, resolve_runtime, train

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


def _setup(cfg: TrainConfig):
    """Model, optimiser, pipelines and a (maybe compiled) TrainStep for cfg, as the engine builds them."""
    runtime = resolve_runtime(cfg)
    model = placed_model(cfg, runtime)
    step, pipelines = build_step(model, cfg, runtime)
    optimizer = build_optimizer(cfg.optimizer, model, cfg.base_lr, cfg.weight_decay, cfg.sgd_momentum)
    return runtime.device, model, pipelines, step, optimizer


def _one_step(device, model, pipelines, step, optimizer, batch, generator, progress) -> tuple[float, float]:
    """(seconds of the whole step, seconds of drawing + rendering the two views)."""
    _sync(device)
    start = time.perf_counter()
    size = batch.shape[-2:]
    params = [p.sample(batch.shape[0], size, device, generator) for p in pipelines]
    views = [p.apply(to_float(batch), q) for p, q in zip(pipelines, params)]  # timed alone, then redone
    _sync(device)
    augmented = time.perf_counter()
    del views
    loss = step(batch, *params).loss
    optimizer.zero_grad(set_to_none=True)
    loss.float().backward()
    optimizer.step()
    model.update_target(progress)
    _sync(device)
    end = time.perf_counter()
    aug = augmented - start
    return end - start, aug


def bench_method(cfg: TrainConfig, images: torch.Tensor, steps: int, warmup: int) -> dict:
    """Median step time and augmentation time of `steps` training steps of cfg.method.

    The augmentation is timed by rendering the views once more outside the step (the step renders
    them itself, inside the possibly compiled TrainStep), and that extra time is not counted in
    the step time."""
    device, model, pipelines, step, optimizer = _setup(cfg)
    generator = torch.Generator(device=device).manual_seed(0)
    n = images.shape[0] // cfg.batch_size
    step_times, aug_times = [], []
    for i in range(warmup + steps):
        batch = images[(i % n) * cfg.batch_size: (i % n + 1) * cfg.batch_size]
        total, aug = _one_step(device, model, pipelines, step, optimizer, batch, generator, i / (warmup + steps))
        if i >= warmup:
            step_times.append(total - aug)
            aug_times.append(aug)
    step_s = sorted(step_times)[len(step_times) // 2]
    aug_s = sorted(aug_times)[len(aug_times) // 2]
    return dict(method=cfg.method, batch=cfg.batch_size, step_ms=step_s * 1e3, aug_ms=aug_s * 1e3,
                views_per_s=2 * cfg.batch_size / step_s, aug_share=aug_s / step_s)


LEVERS = {  # name: (TrainConfig changes, threads)
    "eager fp32, 2 threads": (dict(compile=False, precision="fp32"), 2),
    "compile fp32, 2 threads": (dict(compile=True, precision="fp32"), 2),
    "eager bf16, 2 threads": (dict(compile=False, precision="bf16"), 2),
    "compile bf16, 2 threads": (dict(compile=True, precision="bf16"), 2),
    "eager fp32, 1 thread": (dict(compile=False, precision="fp32"), 1),
    "compile fp32, 1 thread": (dict(compile=True, precision="fp32"), 1),
}


def bench_levers(cfg: TrainConfig, images: torch.Tensor, steps: int, warmup: int) -> list[dict]:
    """Each lever's median step time over `steps` rounds, the levers interleaved in every round."""
    setups, compile_s = {}, {}
    n = images.shape[0] // cfg.batch_size
    for name, (changes, threads) in LEVERS.items():
        torch.set_num_threads(threads)
        setups[name] = _setup(cfg.replace(**changes))
        generator = torch.Generator().manual_seed(0)
        start = time.perf_counter()
        for i in range(warmup):  # the first call compiles
            _one_step(*setups[name], images[(i % n) * cfg.batch_size: (i % n + 1) * cfg.batch_size], generator, 0.0)
        compile_s[name] = time.perf_counter() - start
    times = {name: [] for name in LEVERS}
    generator = torch.Generator().manual_seed(1)
    for i in range(steps):
        batch = images[(i % n) * cfg.batch_size: (i % n + 1) * cfg.batch_size]
        for name, (_, threads) in LEVERS.items():
            torch.set_num_threads(threads)
            total, aug = _one_step(*setups[name], batch, generator, i / steps)
            times[name].append(total - aug)
    # A second compile of the same graphs in a fresh dynamo state: what a later run pays when
    # inductor's on-disk cache already holds the kernels.
    torch._dynamo.reset()
    torch.set_num_threads(2)
    name = "compile fp32, 2 threads"
    again = _setup(cfg.replace(**LEVERS[name][0]))
    start = time.perf_counter()
    _one_step(*again, images[: cfg.batch_size], torch.Generator().manual_seed(0), 0.0)
    cached_compile_s = time.perf_counter() - start
    rows = []
    for name, (changes, threads) in LEVERS.items():
        median = sorted(times[name])[len(times[name]) // 2]
        rows.append(dict(lever=name, threads=threads, step_ms=median * 1e3, warmup_s=compile_s[name]))
    for row in rows:
        ref = next(r for r in rows if r["lever"] == f"eager fp32, {row['threads']} thread" + ("s" if row["threads"] > 1 else ""))
        row["speedup_vs_eager_fp32"] = ref["step_ms"] / row["step_ms"]
    rows.append(dict(lever="compile fp32, 2 threads, cached", threads=2, step_ms=None, warmup_s=cached_compile_s,
                     speedup_vs_eager_fp32=None))
    return rows


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
    parser.add_argument("--profile", help="take the model and batch from this profile's config (e.g. cpu)")
    parser.add_argument("--levers", action="store_true", help="CPU levers side by side (compile, bf16, threads)")
    parser.add_argument("--epoch-images", type=int, default=10_000)
    parser.add_argument("--json", help="write results here")
    args = parser.parse_args(argv)

    cuda = args.device.startswith("cuda")
    if not cuda:
        torch.set_num_threads(args.threads)
    if args.profile:
        from ssl_lib.lab.profiles import get_profile

        base = get_profile(args.profile).train_config(device=args.device, compile=args.compile, progress=False)
        if args.batch_size:
            base = base.replace(batch_size=args.batch_size)
    else:
        base = TrainConfig(device=args.device, image_size=args.image_size, compile=args.compile, progress=False,
                           backbone=args.backbone or ("resnet18" if cuda else "small_cnn"),
                           batch_size=args.batch_size or (512 if cuda else 256))
    device_name = torch.cuda.get_device_name() if cuda else \
        f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    images, _ = make_synthetic((args.warmup + args.steps) * base.batch_size, base.image_size, seed=0,
                               device=args.device, dtype=torch.uint8)
    print(f"device: {device_name}; torch {torch.__version__}; {base.backbone}, {base.image_size} px, "
          f"batch {base.batch_size}, median of {args.steps} steps after {args.warmup} warm-up")
    if args.levers:
        rows = bench_levers(base.replace(method=args.methods.split(",")[0]), images, args.steps, args.warmup)
        print(f"{'lever':<34} {'step ms':>9} {'vs eager fp32':>14} {'warm-up s':>10}")
        for row in rows:
            step = f"{row['step_ms']:.1f}" if row["step_ms"] else "-"
            ratio = f"{row['speedup_vs_eager_fp32']:.2f}x" if row["speedup_vs_eager_fp32"] else "-"
            print(f"{row['lever']:<34} {step:>9} {ratio:>14} {row['warmup_s']:>10.1f}")
        report = dict(device=device_name, torch=torch.__version__, config=base.to_dict(), steps=args.steps, levers=rows)
        if args.json:
            atomic_write_json(report, args.json)
        return report
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
