"""Small helpers over `torch.distributed`; every helper is a safe no-op in a single process.

The trap this module guards against: the raw collective `torch.distributed.all_gather(out, x)`
writes into fresh tensors that autograd knows nothing about, so gradients of a loss computed on
the gathered batch never reach the other ranks' samples. Losses still go down and nothing
errors -- the gradient is just wrong (a recurring bug in public SSL code). Gathering for a loss
must therefore use `gather_with_grad`, built on `torch.distributed.nn.functional.all_gather`,
whose backward sends each rank the SUM over ranks of the gradients of its own slice.

Gradient bookkeeping for a loss on gathered embeddings, with G = world size:
- If every rank computes the same global loss L (Barlow Twins, VICReg statistics), the backward
  of the gather hands rank r the gradient G * dL/dz_r; DDP's division by G makes the parameter
  gradient exactly dL/dtheta.
- If rank r computes a loss L_r over its own anchors (NT-Xent) with L = mean_r L_r, rank r gets
  sum_r' dL_r'/dz_r = G * dL/dz_r, and DDP's average again gives dL/dtheta.
"""

from __future__ import annotations

import os
import warnings

import torch
import torch.distributed as dist
from torch import Tensor


def _initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def is_distributed() -> bool:
    """True when a process group is initialised with more than one process."""
    return _initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's global rank (0 when no process group is initialised)."""
    return dist.get_rank() if _initialized() else 0


def world_size() -> int:
    """Number of processes in the default group (1 when no process group is initialised)."""
    return dist.get_world_size() if _initialized() else 1


def is_main_process() -> bool:
    """True on rank 0 (and in a single process): the one that logs and writes checkpoints."""
    return rank() == 0


def gather_with_grad(x: Tensor) -> Tensor:
    """All-gather `x` (B, ...) from every rank into (world_size * B, ...), keeping gradients.

    Rows are ordered by rank: rank r's samples are rows [r * B, (r + 1) * B). Every rank must pass
    the same shape. The backward pass returns to each rank the sum over ranks of the gradients
    of its own rows (see the module docstring for why that is what DDP needs). Identity when not
    distributed.
    """
    if not is_distributed():
        return x
    # Imported here: torch.distributed.nn is absent from builds without distributed support.
    from torch.distributed.nn.functional import all_gather

    # Recent torch (2.14 here) marks this public op deprecated in favour of the private
    # `torch.distributed._functional_collectives.all_gather_single`; we stay on the public op
    # across our supported range (torch >= 2.4), and tests/utils/test_distributed.py pins its gradient.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"torch\.distributed\.nn\.functional\.all_gather is deprecated",
                                category=FutureWarning)
        return torch.cat(all_gather(x), dim=0)


def init_from_env(backend: str | None = None) -> torch.device:
    """Initialise the default process group from torchrun's environment; return the device to use.

    When RANK, WORLD_SIZE and LOCAL_RANK are set (torchrun, or MASTER_ADDR/MASTER_PORT set by hand
    too), joins the group via `env://` with `backend` (default: "nccl" when CUDA is available,
    else "gloo") and returns cuda:LOCAL_RANK (also made the current CUDA device) or cpu. Without
    those variables nothing is initialised and the default device (cuda or cpu) is returned.
    Calling it again after initialisation only returns the device.
    """
    cuda = torch.cuda.is_available()
    if not all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK")):
        return torch.device("cuda" if cuda else "cpu")
    local_rank = int(os.environ["LOCAL_RANK"])
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        # Before init: NCCL binds each process to the current device.
        torch.cuda.set_device(device)
    if not _initialized():
        dist.init_process_group(
            backend=backend or ("nccl" if cuda else "gloo"),
            init_method="env://",
            rank=int(os.environ["RANK"]),
            world_size=int(os.environ["WORLD_SIZE"]),
        )
    return device


def cleanup() -> None:
    """Destroy the default process group if one exists (safe to call in a single process)."""
    if _initialized():
        dist.destroy_process_group()


def all_reduce_mean(t: Tensor) -> Tensor:
    """Mean of a metric tensor over ranks, as a new detached tensor; the input is left unchanged.

    For logging only: no gradient flows. Integer tensors come back as floating point. In a single
    process returns a detached copy.
    """
    out = t.detach().clone()
    if not out.is_floating_point():
        out = out.to(torch.get_default_dtype())
    if is_distributed():
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        out /= dist.get_world_size()
    return out
