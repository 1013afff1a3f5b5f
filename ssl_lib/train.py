"""The pretraining engine: one function, `train(config)`, for one process or torchrun DDP.

Per step: uint8 batch -> float on the device -> two augmented views with their parameters
(drawn on the device inside the step) -> method forward (bf16 autocast on CUDA) -> backward ->
optimiser step -> momentum-target update. Per epoch: kNN monitor every `knn_every` epochs, one
JSON line in `metrics.jsonl`, and an atomic checkpoint. `resume=True` continues from the last
checkpoint; on CPU with the same seed the result equals an uninterrupted run, because every
random stream (model init, batch order, augmentation draws) is seeded and its state saved.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ssl_lib import distributed as dist
from ssl_lib.augment import recipe
from ssl_lib.backbones import make_backbone
from ssl_lib.config import NOT_TRAINING_FIELDS, TrainConfig
from ssl_lib.data import DeviceLoader, load_dataset, make_loader, make_synthetic, to_float
from ssl_lib.io import atomic_torch_save, atomic_write_text
from ssl_lib.model import build_model
from ssl_lib.optim import build_optimizer, warmup_cosine

CHECKPOINT = "checkpoint.pt"
BACKBONE = "backbone.pt"
METRICS = "metrics.jsonl"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class Runtime:
    device: torch.device
    autocast_dtype: torch.dtype | None
    channels_last: bool


def resolve_runtime(cfg: TrainConfig, device: torch.device | None = None) -> Runtime:
    """Device, autocast dtype and memory format from the config ("auto" = best for the device)."""
    if device is None:
        name = ("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"TrainConfig.device={cfg.device!r} but CUDA is not available")
    cuda = device.type == "cuda"
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and cuda)
    channels_last = cfg.channels_last == "on" or (cfg.channels_last == "auto" and cuda)
    return Runtime(device, torch.bfloat16 if bf16 else None, channels_last)


def view_pipelines(cfg: TrainConfig):
    """The two views' augmentation pipelines ("byol" pairs BYOL's asymmetric byol1 / byol2)."""
    if cfg.recipe == "byol":
        return recipe("byol1", cfg.image_size), recipe("byol2", cfg.image_size)
    pipeline = recipe(cfg.recipe, cfg.image_size)
    return pipeline, pipeline


# -- data --------------------------------------------------------------------------------------

@dataclass
class MonitorData:
    """Un-augmented images for the kNN monitor: a labelled bank and held-out queries (uint8)."""

    bank_images: torch.Tensor
    bank_labels: torch.Tensor
    query_images: torch.Tensor
    query_labels: torch.Tensor


def _real_tensors(cfg: TrainConfig, split: str, limit: int | None):
    """A real dataset split as uint8 tensors (N, 3, S, S), resized and centre-cropped to image_size."""
    import torchvision.transforms.v2 as T

    transform = T.Compose([T.Resize(cfg.image_size), T.CenterCrop(cfg.image_size), T.PILToTensor()])
    dataset = load_dataset(cfg.dataset, cfg.data_root, split, transform=transform)
    n = len(dataset) if limit is None else min(limit, len(dataset))
    step = max(1, len(dataset) // n)  # a spread-out subset, deterministic
    items = [dataset[i] for i in range(0, step * n, step)]
    return torch.stack([x for x, _ in items]), torch.tensor([int(y) for _, y in items])


def build_data(cfg: TrainConfig, device: torch.device, per_rank_batch: int):
    """Training batches (uint8 on the device) and the kNN monitor's data."""
    if cfg.dataset == "synthetic":
        images, labels = make_synthetic(cfg.n_train, cfg.image_size, cfg.data_seed, "train", device, torch.uint8)
        val_images, val_labels = make_synthetic(cfg.n_val, cfg.image_size, cfg.data_seed, "val", device, torch.uint8)
        if cfg.monitor_label not in labels:
            raise ValueError(f"TrainConfig.monitor_label={cfg.monitor_label!r} is not a synthetic label; "
                             f"known: {sorted(labels)}")
        # Every rank draws the same permutation and keeps its slice of each global batch.
        loader = DeviceLoader(images, labels[cfg.monitor_label], cfg.batch_size, shuffle=True, drop_last=True,
                              seed=cfg.seed, device=device)
        monitor = MonitorData(images[: cfg.n_val], labels[cfg.monitor_label][: cfg.n_val],
                              val_images, val_labels[cfg.monitor_label])
        return loader, monitor
    import torchvision.transforms.v2 as T

    pretrain_split = "train+unlabeled" if cfg.dataset == "stl10" else "train"
    transform = T.Compose([T.Resize(cfg.image_size), T.CenterCrop(cfg.image_size), T.PILToTensor()])
    dataset = load_dataset(cfg.dataset, cfg.data_root, pretrain_split, transform=transform)
    loader = make_loader(dataset, per_rank_batch, shuffle=True, drop_last=True, num_workers=cfg.num_workers,
                         seed=cfg.seed, device=device, distributed=dist.is_distributed())
    bank = _real_tensors(cfg, "train", cfg.n_val)
    query = _real_tensors(cfg, "test", cfg.n_val)
    return loader, MonitorData(bank[0].to(device), bank[1].to(device), query[0].to(device), query[1].to(device))


def _rank_slice(images: torch.Tensor, per_rank_batch: int) -> torch.Tensor:
    if not dist.is_distributed() or images.shape[0] == per_rank_batch:
        return images
    start = dist.rank() * per_rank_batch
    return images[start: start + per_rank_batch]


# -- model -------------------------------------------------------------------------------------

@torch.no_grad()
def knn_monitor(backbone: nn.Module, monitor: MonitorData, cfg: TrainConfig, runtime: Runtime) -> float:
    """Top-1 of a weighted cosine kNN from the bank's features to the queries' (un-augmented)."""
    from ssl_lib.evaluate import extract_features, knn_accuracy

    bank = extract_features(backbone, monitor.bank_images, batch_size=512, device=runtime.device)
    query = extract_features(backbone, monitor.query_images, batch_size=512, device=runtime.device)
    return knn_accuracy(bank, monitor.bank_labels, query, monitor.query_labels,
                        k=cfg.knn_k, temperature=cfg.knn_temperature)


# -- the loop ----------------------------------------------------------------------------------

def _checkpoint_state(model, optimizer, epoch, step, aug_generator, loader, cfg) -> dict:
    loader_generator = getattr(loader, "generator", None)
    return dict(model=model.state_dict(), optimizer=optimizer.state_dict(), epoch=epoch, step=step,
                aug_rng=aug_generator.get_state(), torch_rng=torch.get_rng_state(),
                loader_rng=loader_generator.get_state() if loader_generator is not None else None,
                config=cfg.to_dict())


def _truncate_metrics(path: Path, last_epoch: int) -> None:
    """Drop metric lines of epochs after the checkpoint (a run killed between the two writes)."""
    if path.exists():
        lines = [l for l in path.read_text().splitlines() if l and json.loads(l)["epoch"] <= last_epoch]
        atomic_write_text("".join(l + "\n" for l in lines), path)


def train(cfg: TrainConfig, resume: bool = False) -> dict:
    """Pretrain as `cfg` says; returns the last epoch's metrics.

    Writes to cfg.output_dir: metrics.jsonl (one line per epoch), checkpoint.pt (every epoch,
    atomically) and backbone.pt (the backbone's state dict, at the end).
    Raises TrainingDiverged on a NaN / inf loss, ValueError on an invalid config.
    """
    cfg.validate()
    launched_device = dist.init_from_env()  # torchrun: one process per device; else a no-op
    runtime = resolve_runtime(cfg, launched_device if cfg.device == "auto" or dist.is_distributed() else None)
    world = dist.world_size()
    if cfg.batch_size % world:
        raise ValueError(f"TrainConfig.batch_size ({cfg.batch_size}) must divide by the {world} processes")
    per_rank_batch = cfg.batch_size // world
    out_dir = Path(cfg.output_dir)
    main = dist.is_main_process()

    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(runtime.device)
    if runtime.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if cfg.sync_bn and dist.is_distributed():
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    loader, monitor = build_data(cfg, runtime.device, per_rank_batch)
    steps_per_epoch = len(loader)
    total_steps = steps_per_epoch * cfg.epochs
    lr = cfg.base_lr * cfg.batch_size / 256
    optimizer = build_optimizer(cfg.optimizer, model, lr, cfg.weight_decay, cfg.sgd_momentum)
    aug_generator = torch.Generator(device=runtime.device).manual_seed(cfg.seed + 1)
    pipeline1, pipeline2 = view_pipelines(cfg)

    start_epoch, step = 0, 0
    if resume and (out_dir / CHECKPOINT).exists():
        state = torch.load(out_dir / CHECKPOINT, map_location=runtime.device, weights_only=True)
        changed = sorted(k for k, v in state["config"].items() if k not in NOT_TRAINING_FIELDS and getattr(cfg, k) != v)
        if changed:
            raise ValueError(f"cannot resume from {out_dir / CHECKPOINT}: config fields {changed} differ")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, step = state["epoch"], state["step"]
        aug_generator.set_state(state["aug_rng"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        if state["loader_rng"] is not None:
            loader.generator.set_state(state["loader_rng"].cpu())
        if main:
            _truncate_metrics(out_dir / METRICS, start_epoch)
    elif main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / METRICS).unlink(missing_ok=True)
        atomic_write_text(cfg.to_json(), out_dir / "config.json")

    method = model
    if dist.is_distributed():
        ids = [runtime.device.index] if runtime.device.type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    step_fn = torch.compile(model) if cfg.compile else model
    autocast = (torch.autocast(runtime.device.type, dtype=runtime.autocast_dtype)
                if runtime.autocast_dtype is not None else nullcontext())

    metrics = {}
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        epoch_start, loss_sum = time.perf_counter(), torch.zeros((), device=runtime.device)
        part_sums = {}  # the SSL loss and AugSelf's per-group losses, for the metrics
        batches = loader
        if cfg.progress and main:
            from tqdm.auto import tqdm
            batches = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False)
        for images, _ in batches:
            images = to_float(_rank_slice(images, per_rank_batch))
            if runtime.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            views1, params1 = pipeline1(images, aug_generator)
            views2, params2 = pipeline2(images, aug_generator)
            for group in optimizer.param_groups:
                group["lr"] = lr * warmup_cosine(step, total_steps, int(cfg.warmup_epochs * steps_per_epoch))
            with autocast:
                out = step_fn(views1, views2, params1, params2)
            loss = out["loss"].float()
            if not torch.isfinite(loss):
                raise TrainingDiverged(f"loss is {loss.item()} at epoch {epoch + 1}, step {step}; "
                                       f"the last good checkpoint is {out_dir / CHECKPOINT}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            method.update_target(step / total_steps)
            loss_sum += loss.detach()
            for key, value in out.items():
                if key == "ssl_loss" or key.startswith("augself_"):
                    part_sums[key] = part_sums.get(key, 0.0) + value.detach().float()

        seconds = time.perf_counter() - epoch_start
        metrics = dict(epoch=epoch + 1, step=step, loss=dist.all_reduce_mean(loss_sum).item() / steps_per_epoch,
                       lr=optimizer.param_groups[0]["lr"], epoch_seconds=round(seconds, 3),
                       views_per_second=round(2 * steps_per_epoch * cfg.batch_size / seconds, 1))
        metrics.update({key: dist.all_reduce_mean(value).item() / steps_per_epoch for key, value in part_sums.items()})
        if (epoch + 1) % cfg.knn_every == 0 or epoch + 1 == cfg.epochs:
            metrics["knn_top1"] = knn_monitor(method.backbone, monitor, cfg, runtime)
        if main:
            atomic_torch_save(_checkpoint_state(method, optimizer, epoch + 1, step, aug_generator, loader, cfg),
                              out_dir / CHECKPOINT)
            with open(out_dir / METRICS, "a") as handle:
                handle.write(json.dumps(metrics) + "\n")
            if cfg.progress:
                print(json.dumps(metrics), flush=True)

    if main:
        atomic_torch_save(method.backbone.state_dict(), out_dir / BACKBONE)
    if dist.is_distributed():
        # Leave together: tearing down gloo while a peer still works (rank 0 writing files) hangs.
        torch.distributed.barrier()
    return metrics


def load_backbone(run_dir, device="cpu") -> nn.Module:
    """The trained backbone of a finished run (its config.json and backbone.pt), in eval mode."""
    run_dir = Path(run_dir)
    for name in ("config.json", BACKBONE):
        if not (run_dir / name).exists():
            raise FileNotFoundError(f"{run_dir / name} not found: is {run_dir} a finished pretraining run?")
    cfg = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    backbone = make_backbone(cfg.backbone, cifar_stem=cfg.cifar_stem, width=cfg.backbone_width)
    backbone.load_state_dict(torch.load(run_dir / BACKBONE, map_location=device, weights_only=True))
    return backbone.to(device).eval()
