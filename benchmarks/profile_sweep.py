"""Sweep training settings on top of a profile: how to tune the ``cpu`` profile, repeatably.

Each variant is a set of TrainConfig changes applied to one experiment of
`ssl_lib.lab.experiments`; it is trained (or reused) for every requested seed under ``--runs``
and its frozen backbone probed on the synthetic transfer tasks.  Prints one row per variant
with mean +- std over seeds of the end-of-training kNN and the linear-probe top-1 per task,
and the training seconds, so variants are compared side by side in one run.

    python benchmarks/profile_sweep.py --experiment SimCLR --variant base_lr=0.06 \
        --variant base_lr=0.3 --variant "base_lr=0.3;epochs=10" --seeds 0 1

``--supervised shape`` instead trains the profile's backbone with labels (Adam, no augmentation)
on the same images and prints test top-1 per epoch: how learnable a task is at this scale.
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd

from ssl_lib.lab import experiments
from ssl_lib.lab.profiles import resolve
from ssl_lib.lab.runs import get_or_train
from ssl_lib.evaluation.transfer import headline, split_features, transfer_table
from ssl_lib.lab.experiments import profile_transfer_data

TASKS = ("shape", "color", "position", "size", "orientation")


def parse_variant(text: str) -> dict:
    """"key=value;key=value" -> {key: value} with values parsed as JSON where possible."""
    changes = {}
    for item in filter(None, text.split(";")):
        key, _, value = item.partition("=")
        try:
            changes[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            changes[key.strip()] = value
    return changes


def supervised_ceiling(profile, task: str, epochs: int, seed: int = 0):
    """Train the profile's backbone + a linear head on `task` labels (cross-entropy, Adam 1e-3,
    un-augmented images); print held-out top-1 after every epoch."""
    import torch

    from ssl_lib.models.backbones import make_backbone
    from ssl_lib.data import make_synthetic
    from ssl_lib.data.latents import NUM_CLASSES

    cfg = profile.train_config(seed=seed)
    torch.manual_seed(seed)
    x, y = make_synthetic(cfg.n_train, cfg.image_size, seed=cfg.data_seed, split="train")
    x_test, y_test = make_synthetic(profile.eval.probe_test, cfg.image_size, seed=cfg.data_seed, split="test")
    net = make_backbone(cfg.backbone, cfg.cifar_stem, cfg.backbone_width)
    model = torch.nn.Sequential(net, torch.nn.Linear(net.feature_dim, NUM_CLASSES[task]))
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    for epoch in range(1, epochs + 1):
        model.train()
        for idx in torch.randperm(len(x)).split(cfg.batch_size):
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[task][idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            top1 = (model(x_test).argmax(1) == y_test[task]).float().mean().item()
        print(f"supervised {task}: epoch {epoch} train loss {loss.item():.3f} test top-1 {top1:.3f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--experiment", default="SimCLR", help="an ssl_lib.lab.experiments name")
    parser.add_argument("--variant", action="append", default=[], help="TrainConfig changes, k=v;k=v ('' = as is)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--runs", default="runs/sweep", help="runs root of the sweep (reused across calls)")
    parser.add_argument("--supervised", metavar="TASK", help="train with TASK's labels instead (a ceiling)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of --supervised")
    args = parser.parse_args(argv)

    profile = resolve(args.profile, runs_root=args.runs)
    if args.supervised:
        return supervised_ceiling(profile, args.supervised, args.epochs, seed=args.seeds[0])
    exp = experiments.get(args.experiment)
    data = profile_transfer_data(profile)
    rows = []
    for text in args.variant or [""]:
        changes = parse_variant(text)
        for seed in args.seeds:
            cfg = exp.config(profile, seed).replace(progress=False, **changes)
            start = time.perf_counter()
            run_dir = get_or_train(cfg, profile.runs_root, log=lambda *a: None)
            metrics = run_dir.read_metrics()
            features = split_features(run_dir.load_backbone(), data)
            table = headline(transfer_table(features, data, model=text or "(profile)",
                                            l2_grid=profile.eval.l2_grid, few_shot_episodes=0))
            row = dict(variant=text or "(profile)", seed=seed, knn=metrics[-1].get("knn_top1"),
                       train_s=sum(m["epoch_seconds"] for m in metrics),
                       wall_s=time.perf_counter() - start)
            row.update({t: float(table[t].iloc[0]) for t in TASKS})
            rows.append(row)
            print(pd.DataFrame([row]).round(3).to_string(index=False, header=len(rows) == 1), flush=True)
    frame = pd.DataFrame(rows).drop(columns="seed")
    stats = frame.groupby("variant", sort=False).agg(["mean", "std"]).round(3)
    print("\nmean and std over seeds", list(args.seeds))
    print(stats.to_string())


if __name__ == "__main__":
    main()
