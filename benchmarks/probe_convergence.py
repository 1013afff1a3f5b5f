"""How far the linear probe's L-BFGS gets in a budget of steps, raw vs preconditioned coordinates.

The authors' probe fits logistic regression on raw features. A random-init network's features
differ in scale by orders of magnitude, and L-BFGS on them is far from the minimum after hundreds
of steps, while a trained network's features converge in tens: the unconverged fit reads the
random-init baseline too low and inflates every "better than random init" gap. `fit_logistic`
therefore solves the same objective in standardised coordinates (``precondition=True``).

    python benchmarks/probe_convergence.py --profile cpu --tasks shape position --iters 50 150 500 3000

Prints, per backbone (random init and the profile's SimCLR, first seed), task, solver and step
budget: held-out top-1, the chosen L2 weight and the seconds taken (one CPU thread, as the probes
run), side by side in one run.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

import ssl_lib.evaluation.probes as probes
from ssl_lib.evaluation.transfer import split_features
from ssl_lib.lab.experiments import profile_transfer_data
from ssl_lib.lab import experiments
from ssl_lib.lab.profiles import resolve
from ssl_lib.lab.runs import get_or_train


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--tasks", nargs="+", default=["shape", "position"])
    parser.add_argument("--iters", type=int, nargs="+", default=[50, 150, 500, 3000])
    args = parser.parse_args(argv)
    P = resolve(args.profile)
    seed = P.seeds[0]
    data = profile_transfer_data(P)
    backbones = {"random init": experiments.random_backbones(P)[("random init", seed)],
                 "SimCLR": get_or_train(experiments.get("SimCLR").config(P, seed), P.runs_root).load_backbone()}
    original = probes.fit_logistic
    rows = []
    for model, backbone in backbones.items():
        features = split_features(backbone, data)
        for task in args.tasks:
            labels = {s: data.labels[s][task] for s in probes.SPLITS}
            for precondition in (False, True):
                for iters in args.iters:
                    probes.fit_logistic = lambda *a, p=precondition, **k: original(*a, precondition=p, **k)
                    start = time.perf_counter()
                    result = probes.linear_probe(features, labels, l2_grid=P.eval.l2_grid, max_iter=iters)
                    probes.fit_logistic = original
                    rows.append(dict(model=model, task=task, solver="preconditioned" if precondition else "raw",
                                     steps=iters, top1=round(result.top1, 3), l2=f"{result.l2:.0e}",
                                     seconds=round(time.perf_counter() - start, 1)))
                    print(rows[-1], flush=True)
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
