"""Throughput of the synthetic data generator and the device loader.

Usage: python benchmarks/data_throughput.py [--n 40000] [--threads 2] [--device cpu]

Prints images per second for make_synthetic at 32, 64 and 96 px (float32 and uint8 output)
and for iterating a DeviceLoader.  The target is >= 20,000 images/s at 32 px on 2 CPU threads.
"""
import argparse
import time

import torch

from ssl_lib.data import DeviceLoader, make_synthetic


def rate(fn, n, device, repeats=3):
    fn()  # warm-up: shape tables, allocator, kernels
    best = float("inf")
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return n / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40000, help="images per timed run at 32 px")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, device {args.device}")
    for size in (32, 64, 96):
        n = max(1000, args.n * 32 * 32 // (size * size))
        for dtype in (torch.float32, torch.uint8):
            r = rate(lambda: make_synthetic(n, size=size, seed=0, device=args.device, dtype=dtype), n, args.device)
            print(f"make_synthetic {size:3d} px {str(dtype):13s}: {r:10,.0f} images/s (n={n})")
    images, labels = make_synthetic(args.n, size=32, dtype=torch.uint8, device=args.device)
    loader = DeviceLoader(images, labels, batch_size=512, drop_last=True, dtype=torch.float32)
    r = rate(lambda: [b for b in loader], len(loader) * 512, args.device)
    print(f"DeviceLoader    32 px float32 batches  : {r:10,.0f} images/s")


if __name__ == "__main__":
    main()
