"""Two SimCLR views of a batch: ssl_lib vs torchvision v2 per image vs kornia, side by side.

    python benchmarks/augment_throughput.py                    # CPU, 2 threads, both sizes
    python benchmarks/augment_throughput.py --device cuda
    python benchmarks/augment_throughput.py --json out.json --rounds 7

All three run the same settings (SimCLR recipe: crop, flip, jitter 0.8/0.8/0.8/0.2 with p 0.8,
grayscale 0.2, blur p 0.5) on float images already on the device. The contenders are timed in
interleaved rounds (one call of each per round) so that machine noise hits all of them alike;
the table reports the median per call and ratios taken within the same run.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from ssl_lib.augment import recipe
from ssl_lib.utils.io import atomic_write_json


def ssl_lib_two_views(size: int):
    pipeline = recipe("simclr", size)
    return lambda images: (pipeline(images)[0], pipeline(images)[0])


def torchvision_two_views(size: int):
    import torchvision.transforms.v2 as T

    cfg = recipe("simclr", size).config
    transform = T.Compose([
        T.RandomResizedCrop(size, scale=cfg.scale, ratio=cfg.ratio, antialias=False),
        T.RandomHorizontalFlip(cfg.flip_p),
        T.RandomApply([T.ColorJitter(cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue)], p=cfg.jitter_p),
        T.RandomGrayscale(cfg.grayscale_p),
        T.RandomApply([T.GaussianBlur(cfg.blur_kernel, cfg.blur_sigma)], p=cfg.blur_p),
    ])
    # As SSL repositories use it: one call per image (inside a Dataset), then stacked.
    per_image = lambda images: torch.stack([transform(image) for image in images])
    return lambda images: (per_image(images), per_image(images))


def kornia_two_views(size: int):
    import kornia.augmentation as K

    cfg = recipe("simclr", size).config
    augment = K.AugmentationSequential(
        K.RandomResizedCrop((size, size), scale=cfg.scale, ratio=cfg.ratio),
        K.RandomHorizontalFlip(p=cfg.flip_p),
        K.ColorJitter(cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue, p=cfg.jitter_p),
        K.RandomGrayscale(p=cfg.grayscale_p),
        K.RandomGaussianBlur((cfg.blur_kernel, cfg.blur_kernel), cfg.blur_sigma, p=cfg.blur_p),
    )
    return lambda images: (augment(images), augment(images))


CONTENDERS = {"ssl_lib": ssl_lib_two_views, "torchvision_per_image": torchvision_two_views, "kornia": kornia_two_views}


def time_call(fn, images, device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    with torch.no_grad():
        fn(images)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def bench_setting(size: int, batch: int, device, rounds: int, contenders) -> dict:
    """Median seconds per two-view call for each contender, timed in interleaved rounds."""
    images = torch.rand(batch, 3, size, size, device=device)
    fns = {name: CONTENDERS[name](size) for name in contenders}
    for fn in fns.values():  # warm-up: kernels, caches, lazy imports
        time_call(fn, images, device)
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(time_call(fn, images, device))
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (CPU runs)")
    parser.add_argument("--settings", default="32:512,96:256", help="size:batch pairs")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--json", help="write the results here as JSON")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    contenders = args.contenders.split(",")
    unknown = sorted(set(contenders) - CONTENDERS.keys())
    if unknown:
        parser.error(f"unknown contender(s) {unknown}; known: {list(CONTENDERS)}")
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    print(f"device: {device_name}; torch {torch.__version__}; median of {args.rounds} interleaved rounds")
    print(f"{'size':>4} {'batch':>5} {'contender':<22} {'ms/call':>9} {'images/s':>10} {'ssl_lib speed-up':>17}")
    results = []
    for setting in args.settings.split(","):
        size, batch = (int(v) for v in setting.split(":"))
        seconds = bench_setting(size, batch, device, args.rounds, contenders)
        for name, sec in seconds.items():
            speedup = sec / seconds["ssl_lib"] if "ssl_lib" in seconds else float("nan")
            print(f"{size:>4} {batch:>5} {name:<22} {sec * 1e3:>9.2f} {batch / sec:>10.0f} {speedup:>16.2f}x")
            results.append(dict(size=size, batch=batch, contender=name, ms_per_call=sec * 1e3,
                                images_per_s=batch / sec, ssl_lib_speedup=speedup))
    report = dict(device=device_name, torch=torch.__version__, rounds=args.rounds, results=results)
    if args.json:
        atomic_write_json(report, args.json)
    return report


if __name__ == "__main__":
    main()
