"""A notebook's session: its profile, device, recorder and runs, set up in one call.

Every notebook starts the same way: the papermill parameters cell, then

    from ssl_lib.lab.session import claims_table, paired_claim, start
    session = start("04_augself", profile=profile, seeds=seeds, ...)   # the parameters, as given
    P, dev, record = session.P, session.device, session.record

and asks the session for what the reproduction provides: its experiments trained or reused
(`Session.train`), their training curves and backbones, the probe splits and transfer tables, a
model of a run, the validity check's headroom. The claim vocabulary (`paired_claim`,
`claims_table`, `mean_std`) and what the report notebook reads (`load_claims`, `recorded`,
`verdict_counts`, `claims_forest`, `VERDICT_COLORS`, `verdicts_without`) are importable from here too, so that a
notebook imports from this module and its paper's module of `ssl_lib.teaching` only.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd
import torch

from ssl_lib.lab import experiments as _experiments
from ssl_lib.lab import validity as _validity
from ssl_lib.lab.profiles import Profile, resolve
from ssl_lib.lab.results import recorder
from ssl_lib.lab.verdicts import (VERDICT_COLORS, claims_forest, claims_table, load_claims, mean_std,  # noqa: F401
                                  paired_claim, recorded, verdict_counts, verdicts_without)
from ssl_lib.train.run_dir import RunDir

__all__ = ["Session", "start", "default_profile", "claims_table", "mean_std", "paired_claim", "load_claims", "recorded",
           "verdict_counts", "claims_forest", "VERDICT_COLORS", "verdicts_without"]


def default_profile() -> str:
    """The profile a notebook runs when none is given: "smoke" with SMOKE=1 in the environment (the
    tests: ``pytest --nbval-lax notebooks``), else "cpu"."""
    return "smoke" if os.environ.get("SMOKE") else "cpu"


def setup_figures(template: str = "plotly_white") -> None:
    """Plotly's mimetype renderer (JupyterLab, VS Code, the HTML report) and a light template."""
    import plotly.io as pio

    pio.renderers.default = "plotly_mimetype"
    pio.templates.default = template


@dataclass
class Session:
    """What one notebook works with.

    Attributes:
        notebook: its name, e.g. "04_augself" (its results are recorded under that name).
        profile: the resolved `Profile` (also `P`); device: the torch device of its models.
        record: ``record(name, value)`` writes a measured value to the notebook's results.
        parameters: the profile overrides the notebook was given (passed on by `ensure`).
    """

    notebook: str
    profile: Profile
    device: torch.device
    record: Callable
    parameters: dict = field(default_factory=dict)  # the overrides `start` was given (None: the profile's)
    _data: object = field(default=None, repr=False)

    @property
    def P(self) -> Profile:
        return self.profile

    @property
    def experiments(self) -> list:
        """The experiments this notebook trains on this profile (`ssl_lib.lab.experiments`)."""
        return _experiments.for_notebook(self.notebook, self.profile)

    def experiment(self, name: str):
        """An experiment by name (`ssl_lib.lab.experiments.get`)."""
        return _experiments.get(name)

    # -- runs ---------------------------------------------------------------------------------

    def train(self, experiments=None) -> pd.DataFrame:
        """Train or reuse the runs of `experiments` (default: this notebook's) on each of their seeds;
        one row per run: model, seed, run (folder), epochs, final_loss, knn_top1, train_seconds."""
        return _experiments.train_experiments(self.profile, self.experiments if experiments is None else experiments)

    def curves(self, runs: pd.DataFrame) -> pd.DataFrame:
        """Per-epoch training metrics of the runs, with model and seed columns."""
        return _experiments.training_curves(runs)

    def run_dir(self, runs: pd.DataFrame, model: str, seed: int | None = None) -> RunDir:
        """The run folder of `model` on `seed` (default: the profile's first seed) in a runs table."""
        seed = self.profile.seeds[0] if seed is None else seed
        found = runs[(runs.model == model) & (runs.seed == seed)]
        if found.empty:
            raise ValueError(f"no run of {model!r} on seed {seed} in the runs table")
        return RunDir(found.run.iloc[0])

    def trained(self, runs: pd.DataFrame, model: str, seed: int | None = None, device=None):
        """The trained `SSLModel` of `model` on `seed` (default: the first seed), on `device` (default:
        the CPU, where the one-batch examples of `ssl_lib.teaching` live)."""
        return self.run_dir(runs, model, seed).load_model("cpu" if device is None else device)

    def untrained(self, model: str, seed: int | None = None):
        """`model`'s network as built before training (seed: the first of the profile), on the CPU."""
        from ssl_lib.models.compose import build_model

        seed = self.profile.seeds[0] if seed is None else seed
        return build_model(_experiments.get(model).config(self.profile, seed))

    def backbones(self, runs: pd.DataFrame) -> dict:
        """{(model, seed): frozen backbone} of the runs, on the session's device."""
        return _experiments.load_backbones(runs, self.device)

    def random_backbones(self) -> dict:
        """{("random init", seed): untrained backbone} on each of the profile's seeds."""
        return _experiments.random_backbones(self.profile, self.device)

    # -- evaluation -----------------------------------------------------------------------------

    def transfer_data(self):
        """The profile's probe splits (`ssl_lib.evaluation.transfer.TransferData`), built once."""
        if self._data is None:
            self._data = _experiments.profile_transfer_data(self.profile, self.device)
        return self._data

    def transfer(self, runs: pd.DataFrame) -> pd.DataFrame:
        """Every transfer task's probes of the runs' backbones (cached per run)."""
        return _experiments.transfer_tables(self.profile, runs, self.transfer_data(), self.device)

    def random_init_transfer(self) -> pd.DataFrame:
        """The transfer tables of untrained backbones, one per seed."""
        return _experiments.random_init_tables(self.profile, self.transfer_data(), self.device)

    def downstream(self, runs: pd.DataFrame, dataset) -> pd.DataFrame:
        """The runs' probes on one real downstream dataset (`ssl_lib.evaluation.downstream`)."""
        return _experiments.downstream_tables(self.profile, runs, dataset, self.device)

    def scenes(self, n: int, seed: int = 0, split: str = "test", size: int | None = None, device=None):
        """`n` synthetic scenes of the default design (`ssl_lib.data.make_synthetic`: images
        (n, 3, S, S) in [0, 1] and their labels) at the profile's image size (or `size`), on the
        session's device (or `device`)."""
        from ssl_lib.data import make_synthetic

        return make_synthetic(n, size or self.profile.image_size, seed=seed, split=split,
                              device=self.device if device is None else device)

    # -- the bench ------------------------------------------------------------------------------

    @functools.cached_property
    def _bench(self) -> pd.DataFrame:
        return _validity.measure(self.profile, log=None)

    def headroom(self, model: str, factor: str) -> pd.Series:
        """Per seed, how much `factor` a model trained without the augmentation that removes it reads
        beyond `model` (the validity check on the profile's seeds, cached): the most an "improves
        `factor`" claim against `model` can show."""
        return _validity.headroom(self._bench, model, factor)

    def validity(self) -> dict:
        """The validity check as `make reproduce` recorded it; measured now (on the notebooks' own
        runs) when this notebook runs on its own. A missed floor is printed, not raised."""
        found = recorded(self.profile.output, _validity.RESULTS_NAME)
        if found is None:
            try:
                _validity.run(self.profile)
            except _validity.BenchInvalid as error:
                print(error)
            found = recorded(self.profile.output, _validity.RESULTS_NAME)
        return found

    def failed_seeds(self) -> list[int]:
        """The seeds on which the bench missed a validity floor (`ssl_lib.lab.validity.failed_seeds`
        of `validity`); [] for a profile without floors."""
        found = self.validity()
        if not found.get("floors"):
            return []
        return _validity.failed_seeds(pd.DataFrame(found["table"]), _validity.ValidityFloors(**found["floors"]))

    def ensure(self, notebooks) -> list[str]:
        """Run those of `notebooks` (e.g. "02_invariance") whose results are missing, with this
        session's profile, overrides, output and runs; returns them."""
        missing = [nb for nb in notebooks if recorded(self.profile.output, nb) is None]
        if missing:
            from ssl_lib.lab.runner import reproduce

            print(f"running {missing} first ...")
            given = {k: v for k, v in self.parameters.items() if k not in ("output", "runs_root")}
            reproduce(self.profile.name, output=self.profile.output, notebooks=[nb[:2] for nb in missing], report=False,
                      runs_root=self.profile.runs_root, **given)
        return missing


def start(notebook: str, profile: str | None = None, **parameters) -> Session:
    """Set up notebook `notebook` ("04_augself"): resolve the profile with the papermill
    `parameters` (seeds, device, dataset, data_root, epochs, output, runs_root; None keeps the
    profile's value), set up plotly, and print what runs where. Returns the `Session`."""
    resolved = resolve(profile or default_profile(), **parameters)
    setup_figures()
    session = Session(notebook, resolved, resolved.torch_device(), recorder(resolved, notebook), dict(parameters))
    print(f"profile {resolved.name}: {resolved.description}\n"
          f"seeds {list(resolved.seeds)}, device {session.device}, runs in {resolved.runs_root}")
    return session
