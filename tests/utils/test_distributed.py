"""Distributed losses: two gloo CPU processes must reproduce the single-process loss AND the
single-process gradient on the global batch; the raw all_gather must not (the trap).

One spawn (module fixture) runs every check in two processes and saves its results; the tests
below compare them with single-process computations done here.
"""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

import ssl_lib.utils.distributed as sdist
from ssl_lib.models.losses import barlow_twins, nt_xent, vicreg

WORLD = 2
N, D_IN, D_OUT = 8, 6, 5  # global batch of N samples: B = N / WORLD per rank
LOSSES = {"nt_xent": nt_xent, "barlow_twins": barlow_twins, "vicreg": vicreg}


def _inputs():
    """Fixed global batch (two views) and shared linear weights, identical in every process."""
    g = torch.Generator().manual_seed(0)
    x1 = torch.randn(N, D_IN, generator=g, dtype=torch.float64)
    x2 = x1 + 0.5 * torch.randn(N, D_IN, generator=g, dtype=torch.float64)
    weight = 0.3 * torch.randn(D_OUT, D_IN, generator=g, dtype=torch.float64)
    return x1, x2, weight


def _model(weight):
    model = nn.Linear(D_IN, D_OUT, bias=False, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(weight)
    return model


def _loss_and_grad(fn, model, x1, x2, **kw):
    """One forward (both views in one call, as DDP expects) and backward; (loss, weight grad)."""
    b = x1.shape[0]
    z = model(torch.cat([x1, x2]))
    loss = fn(z[:b], z[b:], **kw)
    loss.backward()
    inner = model.module if isinstance(model, DDP) else model
    return loss.detach(), inner.weight.grad.detach().clone()


def _raw_gather(x):
    """The trap: the plain collective, with the usual 'fix' of putting the local rows back.

    The other ranks' rows are constants to autograd, so their gradient paths are lost.
    """
    out = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(out, x)
    out[dist.get_rank()] = x
    return torch.cat(out)


def _worker(rank, port, out_dir):
    torch.set_num_threads(1)
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )
    device = sdist.init_from_env()
    try:
        res = {
            "device": str(device), "rank": sdist.rank(), "world_size": sdist.world_size(),
            "is_distributed": sdist.is_distributed(), "is_main": sdist.is_main_process(),
        }
        metric = torch.tensor(float(rank + 1))
        res["mean_metric"] = sdist.all_reduce_mean(metric)
        res["metric_after"] = metric

        # gather_with_grad: rows in rank order; backward sums the ranks' gradients.
        x = torch.full((2, 3), float(rank), dtype=torch.float64, requires_grad=True)
        gathered = sdist.gather_with_grad(x)
        weights = torch.arange(gathered.numel(), dtype=torch.float64).view_as(gathered)
        (gathered * weights * (rank + 1)).sum().backward()
        res["gathered"], res["gather_grad"] = gathered.detach(), x.grad

        x1, x2, weight = _inputs()
        b = N // WORLD
        local = slice(rank * b, (rank + 1) * b)
        gather_fn = sdist.gather_with_grad
        for name, fn in LOSSES.items():
            for mode in ("autograd", "raw"):
                # The losses look the gather up in ssl_lib.utils.distributed on every call.
                sdist.gather_with_grad = gather_fn if mode == "autograd" else _raw_gather
                try:
                    ddp = DDP(_model(weight))  # averages the weight gradient over ranks
                    loss, grad = _loss_and_grad(
                        fn, ddp, x1[local], x2[local], gather_distributed=True
                    )
                finally:
                    sdist.gather_with_grad = gather_fn
                res[name, mode] = (sdist.all_reduce_mean(loss), grad)
                res[name, mode, "local"] = loss
        torch.save(res, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        sdist.cleanup()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp("dist"))
    mp.spawn(_worker, args=(_free_port(), out_dir), nprocs=WORLD, join=True)
    return [torch.load(os.path.join(out_dir, f"rank{r}.pt")) for r in range(WORLD)]


def _single_process(fn):
    x1, x2, weight = _inputs()
    return _loss_and_grad(fn, _model(weight), x1, x2)


def test_helpers_in_a_two_process_group(results):
    for r, res in enumerate(results):
        assert res["device"] == "cpu" and res["rank"] == r and res["world_size"] == WORLD
        assert res["is_distributed"] and res["is_main"] == (r == 0)
        assert res["mean_metric"].item() == pytest.approx(1.5)
        assert res["metric_after"].item() == r + 1  # input untouched


def test_gather_with_grad_orders_rows_and_sums_gradients(results):
    blocks = [torch.full((2, 3), float(r), dtype=torch.float64) for r in range(WORLD)]
    expected_rows = torch.cat(blocks)
    weights = torch.arange(expected_rows.numel(), dtype=torch.float64).view_as(expected_rows)
    for r, res in enumerate(results):
        assert torch.equal(res["gathered"], expected_rows)
        # d/dx_r of sum_r' (r' + 1) * <weights, gathered> = (1 + 2) * weights[rows of r]
        assert torch.equal(res["gather_grad"], 3 * weights[2 * r: 2 * r + 2])


@pytest.mark.parametrize("name", list(LOSSES))
def test_mean_of_rank_losses_equals_global_loss(results, name):
    loss, _ = _single_process(LOSSES[name])
    for res in results:
        assert res[name, "autograd"][0].item() == pytest.approx(loss.item(), rel=1e-10)


def test_nt_xent_rank_loss_uses_local_anchors_and_global_negatives(results):
    # Per-anchor losses on the global batch, independently of nt_xent's indexing: the 2N x 2N
    # similarity matrix with the diagonal removed; anchor a's positive is a +- N.
    x1, x2, weight = _inputs()
    with torch.no_grad():
        u = torch.nn.functional.normalize(_model(weight)(torch.cat([x1, x2])), dim=1)
    sim = (u @ u.T / 0.5).fill_diagonal_(float("-inf"))
    positive = torch.arange(2 * N).roll(N)
    per_anchor = torch.logsumexp(sim, dim=1) - sim[torch.arange(2 * N), positive]
    b = N // WORLD
    for r, res in enumerate(results):
        rows = torch.arange(r * b, (r + 1) * b)
        mine = torch.cat([rows, rows + N])  # this rank's view-1 and view-2 anchors
        expected = per_anchor[mine].mean().item()
        assert res["nt_xent", "autograd", "local"].item() == pytest.approx(expected, rel=1e-10)
    assert results[0]["nt_xent", "autograd", "local"] != results[1]["nt_xent", "autograd", "local"]


def test_barlow_twins_every_rank_returns_the_global_loss(results):
    loss, _ = _single_process(barlow_twins)
    for res in results:
        local_loss = res["barlow_twins", "autograd", "local"].item()
        assert local_loss == pytest.approx(loss.item(), rel=1e-10)


@pytest.mark.parametrize("name", list(LOSSES))
def test_ddp_gradient_equals_global_gradient(results, name):
    _, grad = _single_process(LOSSES[name])
    for res in results:
        torch.testing.assert_close(res[name, "autograd"][1], grad, rtol=0, atol=1e-5)
    assert grad.abs().max() > 1e-3  # a non-trivial gradient is being compared


@pytest.mark.parametrize("name", list(LOSSES))
def test_raw_all_gather_gives_the_same_loss_but_a_wrong_gradient(results, name):
    loss, grad = _single_process(LOSSES[name])
    for res in results:
        raw_loss, raw_grad = res[name, "raw"]
        assert raw_loss.item() == pytest.approx(loss.item(), rel=1e-10)  # silent: forward is fine
        assert (raw_grad - grad).abs().max() > 1e-3


def test_init_from_env_is_a_no_op_without_torchrun(monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert sdist.init_from_env().type == expected
    assert not dist.is_initialized() and not sdist.is_distributed()
    assert (sdist.rank(), sdist.world_size(), sdist.is_main_process()) == (0, 1, True)
    x = torch.randn(3, 2)
    assert sdist.gather_with_grad(x) is x
    assert torch.equal(sdist.all_reduce_mean(torch.tensor([2, 4])), torch.tensor([2.0, 4.0]))
    sdist.cleanup()  # safe without a group
