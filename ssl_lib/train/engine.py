"""The pretraining engine: one function, `train(config)`, for one process or torchrun DDP.

Per step: draw both views' augmentation parameters on the device, then `TrainStep` (uint8
batch -> float -> the two views -> method forward under bf16 autocast on CUDA -> loss), then
backward, optimiser step and momentum-target update. Nothing in a step waits on the device: the
augmentations mask instead of selecting rows, the finite-loss guard is a device-side flag read
once per epoch, so with `compile=True` the `TrainStep` is one graph (`torch.compile(fullgraph=True)`,
its backward through AOTAutograd; CUDA graphs on CUDA). Per epoch: kNN monitor every
`knn_every` epochs, one JSON line in `metrics.jsonl`, and an atomic checkpoint. `resume=True` continues from the last
checkpoint; on CPU with the same seed the result equals an uninterrupted run, because every
random stream (model init, batch order, augmentation draws) is seeded and its state saved.

The run folder is locked for the whole run (a second run into it fails at once), and a
checkpoint is saved only when every parameter and buffer is finite: a NaN / inf loss, or
weights that overflowed while the loss still looked fine (BatchNorm hides it), stop the run
with `TrainingDiverged`, keeping the last finite checkpoint.
"""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from ssl_lib.augment import AugParams, recipe
from ssl_lib.data import DeviceLoader, load_dataset, make_loader, make_synthetic, spread_indices, to_float
from ssl_lib.data.datasets import pretraining_splits, require_present
from ssl_lib.models.compose import build_model
from ssl_lib.train.config import RESUMABLE_FIELDS, TrainConfig
from ssl_lib.train.optim import build_optimizer, warmup_cosine
from ssl_lib.train.run_dir import RunDir
from ssl_lib.utils import distributed as dist
from ssl_lib.utils.checks import non_finite_entries


class TrainingDiverged(RuntimeError):
    """The loss, a parameter or a buffer became NaN or infinite; the last good checkpoint is kept."""


def _diverged(run: RunDir, what: str) -> TrainingDiverged:
    # Name a checkpoint only if one exists: every checkpoint of this run was saved finite, and
    # a fresh run removed any earlier run's.
    kept = f"the last good checkpoint is {run.checkpoint_path}" if run.has_checkpoint() else "no checkpoint was saved"
    return TrainingDiverged(f"{what}; {kept}")


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
    if cuda:
        torch.backends.cudnn.benchmark = True  # fixed shapes every step: autotune each conv once
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
    items = [dataset[i] for i in spread_indices(len(dataset), limit)]
    return torch.stack([x for x, _ in items]), torch.tensor([int(y) for _, y in items])


def build_data(cfg: TrainConfig, device: torch.device, per_rank_batch: int):
    """Training batches (uint8 on the device) and the kNN monitor's data."""
    if cfg.dataset == "synthetic":
        images, labels = make_synthetic(cfg.n_train, cfg.image_size, cfg.data_seed, "train", device, torch.uint8,
                                        scene=cfg.scene)
        val_images, val_labels = make_synthetic(cfg.n_val, cfg.image_size, cfg.data_seed, "val", device, torch.uint8,
                                                scene=cfg.scene)
        # Every rank draws the same permutation and keeps its slice of each global batch.
        loader = DeviceLoader(images, labels[cfg.monitor_label], cfg.batch_size, shuffle=True, drop_last=True,
                              seed=cfg.seed, device=device)
        monitor = MonitorData(images[: cfg.n_val], labels[cfg.monitor_label][: cfg.n_val],
                              val_images, val_labels[cfg.monitor_label])
        return loader, monitor
    import torchvision.transforms.v2 as T

    pretrain_split, monitor_split = pretraining_splits(cfg.dataset)
    transform = T.Compose([T.Resize(cfg.image_size), T.CenterCrop(cfg.image_size), T.PILToTensor()])
    dataset = load_dataset(cfg.dataset, cfg.data_root, pretrain_split, transform=transform)
    loader = make_loader(dataset, per_rank_batch, shuffle=True, drop_last=True, num_workers=cfg.num_workers,
                         seed=cfg.seed, device=device, distributed=dist.is_distributed())
    # The monitor's bank: the labelled training images (STL-10's unlabeled ones have no label).
    bank = _real_tensors(cfg, "trainval" if pretrain_split == "trainval" else "train", cfg.n_val)
    query = _real_tensors(cfg, monitor_split, cfg.n_val)
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
    from ssl_lib.evaluation.features import extract_features
    from ssl_lib.evaluation.knn import knn_accuracy

    bank = extract_features(backbone, monitor.bank_images, batch_size=512, device=runtime.device)
    query = extract_features(backbone, monitor.query_images, batch_size=512, device=runtime.device)
    return knn_accuracy(bank, monitor.bank_labels, query, monitor.query_labels,
                        k=cfg.knn_k, temperature=cfg.knn_temperature)


class TrainStep(nn.Module):
    """The part of a training step after the parameters are drawn, one graph when compiled.

    forward(images (B, 3, H, W) uint8 or float in [0, 1], params1, params2: AugParams (B rows))
    -> the model's `ModelOutput` (loss, ssl_loss, augself, method): both views rendered
    with their drawn parameters (float32), then the model under `autocast_dtype` autocast.
    Sampling stays outside: it advances the seeded generator, whose state a checkpoint saves.
    """

    def __init__(self, model: nn.Module, pipelines: tuple, autocast_dtype: torch.dtype | None = None,
                 channels_last: bool = False):
        super().__init__()
        self.model = model
        self.pipelines = pipelines
        self.autocast_dtype = autocast_dtype
        self.channels_last = channels_last

    def forward(self, images: torch.Tensor, params1: AugParams, params2: AugParams) -> dict:
        images = to_float(images)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        views1, params1 = self.pipelines[0].apply(images, params1)
        views2, params2 = self.pipelines[1].apply(images, params2)
        dtype = self.autocast_dtype
        with torch.autocast(images.device.type, dtype=dtype) if dtype is not None else nullcontext():
            return self.model(views1, views2, params1, params2)


def placed_model(cfg: TrainConfig, runtime: Runtime) -> nn.Module:
    """The config's model, seeded with ``cfg.seed``, on the runtime's device in its memory format
    (channels_last where the runtime asks for it)."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(runtime.device)
    return model.to(memory_format=torch.channels_last) if runtime.channels_last else model


def build_step(forward: nn.Module, cfg: TrainConfig, runtime: Runtime, fullgraph: bool = True):
    """The config's two view pipelines and the `TrainStep` around `forward` (the model, or its DDP
    wrapper); returns (step, pipelines). With `cfg.compile` the step is `torch.compile`d: one
    graph (`fullgraph`: a graph break is an error), on CUDA with CUDA graphs ("reduce-overhead"),
    which replay a step's kernels without launching each of them from Python."""
    pipelines = view_pipelines(cfg)
    step = TrainStep(forward, pipelines, runtime.autocast_dtype, runtime.channels_last)
    if cfg.compile:
        mode = "reduce-overhead" if runtime.device.type == "cuda" else None
        step = torch.compile(step, fullgraph=fullgraph, mode=mode)
    return step, pipelines


# -- the loop ----------------------------------------------------------------------------------

def _checkpoint_state(model, optimizer, epoch, step, aug_generator, loader, cfg) -> dict:
    loader_generator = getattr(loader, "generator", None)
    return dict(model=model.state_dict(), optimizer=optimizer.state_dict(), epoch=epoch, step=step,
                aug_rng=aug_generator.get_state(), torch_rng=torch.get_rng_state(),
                loader_rng=loader_generator.get_state() if loader_generator is not None else None,
                config=cfg.to_dict())


def _resume(run: RunDir, state: dict, cfg: TrainConfig, model, optimizer, aug_generator, loader) -> tuple[int, int]:
    """Restore model, optimiser and every random stream from the checkpoint `state`; returns
    (epochs done, steps done). ValueError naming the fields when the config changed."""
    changed = sorted(k for k, v in state["config"].items()
                     if k not in RESUMABLE_FIELDS and getattr(cfg, k, None) != v)
    if changed:
        raise ValueError(f"cannot resume from {run.checkpoint_path}: config fields {changed} differ from the "
                         f"checkpoint's (only {list(RESUMABLE_FIELDS)} may change); run without --resume to "
                         "start over")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    aug_generator.set_state(state["aug_rng"].cpu())
    torch.set_rng_state(state["torch_rng"].cpu())
    if state["loader_rng"] is not None:
        loader.generator.set_state(state["loader_rng"].cpu())
    return state["epoch"], state["step"]


@dataclass
class _Loop:
    """What every step of a run needs, built once by `train`."""

    cfg: TrainConfig
    runtime: Runtime
    method: nn.Module  # the SSLModel itself (not the DDP wrapper): targets, backbone, state dict
    step_fn: nn.Module  # what a step calls: a TrainStep around the (DDP-wrapped) model, maybe compiled
    optimizer: torch.optim.Optimizer
    loader: object
    pipelines: tuple
    aug_generator: torch.Generator
    per_rank_batch: int
    lr: float
    total_steps: int


def _run_epoch(loop: _Loop, epoch: int, step: int, run: RunDir) -> tuple[dict, int]:
    """One pass over the loader; returns the epoch's metrics (loss means, timing) and the step count.

    Raises TrainingDiverged after the pass when a step's loss was not finite, naming the first.
    """
    cfg, runtime, (pipeline1, pipeline2) = loop.cfg, loop.runtime, loop.pipelines
    steps_per_epoch = len(loop.loader)
    loop.step_fn.train()
    if hasattr(loop.loader, "set_epoch"):
        loop.loader.set_epoch(epoch)
    device = runtime.device
    epoch_start, loss_sum = time.perf_counter(), torch.zeros((), device=device)
    # The first non-finite step and its loss, kept on the device: checking each step would
    # wait for it. Later steps of the epoch train on NaNs, but nothing of theirs is saved.
    first_bad, bad_loss = torch.full((), -1, device=device), torch.zeros((), device=device)
    part_sums = {}  # the SSL loss and AugSelf's per-group losses, for the metrics
    batches = loop.loader
    if cfg.progress and dist.is_main_process():
        try:
            from tqdm.auto import tqdm
        except ImportError:  # a bare GPU machine (benchmarks/gpu.sh): the JSON line per epoch is enough
            tqdm = None
        if tqdm is not None:
            batches = tqdm(loop.loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False)
    for images, _ in batches:
        images = _rank_slice(images, loop.per_rank_batch)
        batch, size = images.shape[0], images.shape[-2:]
        params1 = pipeline1.sample(batch, size, device, loop.aug_generator)
        params2 = pipeline2.sample(batch, size, device, loop.aug_generator)
        for group in loop.optimizer.param_groups:
            group["lr"] = loop.lr * warmup_cosine(step, loop.total_steps, int(cfg.warmup_epochs * steps_per_epoch))
        out = loop.step_fn(images, params1, params2)
        loss = out.loss.float()
        newly_bad = ~torch.isfinite(loss) & (first_bad < 0)
        first_bad = torch.where(newly_bad, step, first_bad)
        bad_loss = torch.where(newly_bad, loss.detach(), bad_loss)
        loop.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        loop.optimizer.step()
        step += 1
        loop.method.update_target(step / loop.total_steps)
        loss_sum += loss.detach()
        for key, value in out.terms().items():
            part_sums[key] = part_sums.get(key, 0.0) + value.detach().float()

    bad_step = int(first_bad.item())  # the epoch's one wait on the device for the guard
    if bad_step >= 0:
        raise _diverged(run, f"loss is {bad_loss.item()} at epoch {epoch + 1}, step {bad_step}")
    seconds = time.perf_counter() - epoch_start
    metrics = dict(epoch=epoch + 1, step=step, loss=dist.all_reduce_mean(loss_sum).item() / steps_per_epoch,
                   lr=loop.optimizer.param_groups[0]["lr"], epoch_seconds=round(seconds, 3),
                   views_per_second=round(2 * steps_per_epoch * cfg.batch_size / seconds, 1))
    metrics.update({key: dist.all_reduce_mean(value).item() / steps_per_epoch for key, value in part_sums.items()})
    return metrics, step


def train(cfg: TrainConfig, resume: bool = False) -> dict:
    """Pretrain as `cfg` says; returns the last epoch's metrics.

    Writes the run folder cfg.output_dir (`RunDir`): config.json, metrics.jsonl (one line per
    epoch), checkpoint.pt (every epoch, atomically) and backbone.pt (at the end); a fresh run
    first clears an earlier run's files. Raises ValueError (TypeError) on an invalid config or a
    checkpoint of another config, TrainingDiverged on a NaN / inf loss, parameter or buffer,
    RunDirBusy when another run holds the folder, OSError when a file cannot be written.
    """
    cfg.validate()
    launched_device = dist.init_from_env()  # torchrun: one process per device; else a no-op
    runtime = resolve_runtime(cfg, launched_device if cfg.device == "auto" or dist.is_distributed() else None)
    world = dist.world_size()
    if cfg.batch_size % world:
        raise ValueError(f"TrainConfig.batch_size ({cfg.batch_size}) must divide by the {world} processes")
    run = RunDir(cfg.output_dir)
    # Checked before the lock file is made beside the folder, and before the data loads.
    run.check_trainable()
    if cfg.dataset != "synthetic":
        require_present(cfg.dataset, cfg.data_root)
    # One writer per folder (rank 0 writes for all): a second run fails now instead of
    # interleaving its files with this one's. get_or_train already holds it: re-entrant.
    with run.locked(blocking=False) if dist.is_main_process() else nullcontext():
        return _train(cfg, resume, run, runtime, cfg.batch_size // world)


def _train(cfg: TrainConfig, resume: bool, run: RunDir, runtime: Runtime, per_rank_batch: int) -> dict:
    main = dist.is_main_process()
    model = placed_model(cfg, runtime)
    if cfg.sync_bn and dist.is_distributed():
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    loader, monitor = build_data(cfg, runtime.device, per_rank_batch)
    lr = cfg.base_lr * cfg.batch_size / 256
    optimizer = build_optimizer(cfg.optimizer, model, lr, cfg.weight_decay, cfg.sgd_momentum)
    aug_generator = torch.Generator(device=runtime.device).manual_seed(cfg.seed + 1)

    start_epoch, step, history = 0, 0, []  # history: every epoch's metrics, saved in each checkpoint
    if resume and run.has_checkpoint():
        state = run.load_checkpoint(runtime.device)
        start_epoch, step = _resume(run, state, cfg, model, optimizer, aug_generator, loader)
        if main:
            history = run.restore(state)
    elif main:
        run.start(cfg)

    forward = model
    if dist.is_distributed():
        ids = [runtime.device.index] if runtime.device.type == "cuda" else None
        forward = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    # DDP splits the graph at its gradient buckets on purpose, so one graph only without it.
    step_fn, pipelines = build_step(forward, cfg, runtime, fullgraph=not dist.is_distributed())
    loop = _Loop(cfg, runtime, model, step_fn, optimizer, loader, pipelines, aug_generator,
                 per_rank_batch, lr, len(loader) * cfg.epochs)

    metrics = {}
    for epoch in range(start_epoch, cfg.epochs):
        metrics, step = _run_epoch(loop, epoch, step, run)
        # The loss can stay finite while weights or BatchNorm statistics overflow; such a model
        # must never become "the last good checkpoint".
        bad = non_finite_entries(model.state_dict())
        if bad:
            raise _diverged(run, f"parameters / buffers {bad[:3]} are not finite after epoch {epoch + 1}")
        if (epoch + 1) % cfg.knn_every == 0 or epoch + 1 == cfg.epochs:
            metrics["knn_top1"] = knn_monitor(model.backbone, monitor, cfg, runtime)
        if main:
            history.append(metrics)
            run.save_epoch(_checkpoint_state(model, optimizer, epoch + 1, step, aug_generator, loader, cfg), history)
            if cfg.progress:
                print(json.dumps(metrics), flush=True)

    if main:
        run.save_backbone(model.backbone.state_dict())
    if dist.is_distributed():
        # Leave together: tearing down gloo while a peer still works (rank 0 writing files) hangs.
        torch.distributed.barrier()
    return metrics
