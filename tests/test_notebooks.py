"""Every notebook runs end to end in the smoke profile; committed notebooks are clean.

In `make test` nbval has just executed every notebook in this session (SMOKE=1, see the root
conftest.py): the checks below read what they recorded under outputs/smoke. Run on their own
(`pytest tests/test_notebooks.py`), they run the notebooks once through the same runner as `make
reproduce` (papermill), into a temporary folder. Outputs are compared cell by cell only where a
cell says `# NBVAL_CHECK_OUTPUT` (plotly JSON, timings and progress bars differ between runs);
the recorded results are checked instead.
"""

import json
import math
import re
import statistics
import subprocess
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from scipy import stats

from ssl_lib.lab import experiments
from ssl_lib.lab.results import merge_results, results_path
from ssl_lib.lab.profiles import OVERRIDES, resolve
from ssl_lib.lab.verdicts import CLAIM_COLUMNS, MIN_SEEDS, VERDICTS, compare
from ssl_lib.lab.runner import NOTEBOOK_DIR, NotebookFailed, list_notebooks, notebook_parameters, reproduce, run_notebook
from ssl_lib.lab.runs import is_finished, run_name

NOTEBOOKS = list_notebooks()
# Notebook 02's grouping of transforms and its claims (quantity: winner, loser), written out.
SPATIAL = ("crop", "flip")
COLOUR = ("brightness", "contrast", "saturation", "hue", "grayscale", "blur")
CLAIMS_02 = {"spatial transforms": ("Spatial", "Appearance"), "colour transforms": ("Appearance", "Spatial"),
             "viewpoint": ("Spatial", "Appearance"), "lighting": ("Appearance", "Spatial")}
# What notebook 08 gathers, and the columns of a claim row.
REPORT_SOURCES = ("02_invariance", "03_methods", "04_augself", "05_cassle", "06_feature_aug", "07_transfer")


def _interval(values):
    """"+mean [low, high]": the paired difference's mean and 95% t interval (scipy's t-test)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:+.3f} [n/a, n/a]"
    ci = stats.ttest_1samp(values, 0.0).confidence_interval(0.95)
    return f"{mean:+.3f} [{ci.low:+.3f}, {ci.high:+.3f}]"


def _parse_interval(text):
    """The numbers of an `_interval` string: (mean, low, high), NaN for "n/a"."""
    mean, low, high = re.fullmatch(r"([-+][\d.]+) \[(\S+), (\S+)\]", text).groups()
    number = lambda s: math.nan if s == "n/a" else float(s)
    return float(mean), number(low), number(high)


def _pm(values):
    """"mean ± std" over seeds as the claims table prints it (3 decimals; std 0 for one seed)."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {std:.3f}"


def test_there_are_notebooks():
    assert [p.stem for p in NOTEBOOKS][:2] == ["01_augmentations", "02_invariance"]


def committed(path: Path) -> nbformat.NotebookNode:
    """The notebook as git stores it (the index: what the nbstripout filter lets through), so a
    notebook a student ran in JupyterLab does not fail this test; the file outside a checkout."""
    try:
        text = subprocess.run(["git", "show", f":{path.relative_to(path.parents[1]).as_posix()}"], cwd=path.parents[1],
                              capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return nbformat.read(path, as_version=4)
    return nbformat.reads(text, as_version=4)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_carries_no_outputs(path):
    nb = committed(path)
    # Cells checked by nbval (# NBVAL_CHECK_OUTPUT) keep their reference output (keep_output).
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)
             and not c.metadata.get("keep_output")]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; strip them before committing"
    checked = [i for i, c in enumerate(nb.cells) if "NBVAL_CHECK_OUTPUT" in c.get("source", "")]
    assert all(nb.cells[i].metadata.get("keep_output") and nb.cells[i].outputs for i in checked), \
        f"{path.name}: cells {checked} are checked by nbval and need a committed reference output"
    assert "papermill" not in nb.metadata, f"{path.name} is an executed copy (papermill metadata)"
    assert nb.metadata["kernelspec"]["name"] == "ssl-lib"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "first cell: title + idea"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    # The runner passes the same overrides to every notebook, so every notebook declares them all.
    assert set(notebook_parameters(path)) == {"profile", *OVERRIDES}
    # None: the session picks the cpu profile for users, the smoke profile for the tests (SMOKE=1)
    assert "profile = None" in tagged[0].source
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    stem = path.stem
    assert any(f'session = start("{stem}", profile=profile' in source for source in code), \
        f"{path.name} must set up through the session (which records its numbers under its name)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_that_states_the_verdict_rule_names_every_verdict(path):
    # The rule is restated where a notebook judges its claims; a verdict added to the library
    # (as "cannot show here" was) must reach every restatement, or a student reads a table
    # whose verdicts the notebook never explained.
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        text = " ".join(cell.source.split())
        if cell.cell_type == "markdown" and "*reproduced* when" in text:
            missing = [v for v in VERDICTS if f"*{v}*" not in text]
            assert not missing, f"{path.name} cell {i} states the verdict rule without {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_imports_from_at_most_two_library_modules(path):
    import ast

    nb = nbformat.read(path, as_version=4)
    modules = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ssl_lib"):
                # `from ssl_lib.teaching import augself` imports the module ssl_lib.teaching.augself
                packages = ("ssl_lib.teaching", "ssl_lib.lab")
                modules |= ({f"{node.module}.{a.name}" for a in node.names} if node.module in packages
                            else {node.module})
            elif isinstance(node, ast.Import):
                modules |= {a.name for a in node.names if a.name.startswith("ssl_lib")}
    assert len(modules) <= 2, f"{path.name} imports from {sorted(modules)}"


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, nbval_run):
    """All notebooks once in the smoke profile: (output folder, merged results, runs folder).

    Reuses what nbval executed in this session; otherwise runs them with the runner.
    """
    if nbval_run["notebooks"]:
        failed = [nb for nb, ok in nbval_run["notebooks"].items() if not ok]
        missing = [p.stem for p in NOTEBOOKS if p.stem not in nbval_run["notebooks"]]
        assert not failed and not missing, f"nbval: failed {failed}, not run {missing}"
        P = resolve("smoke")
        stale = [p.stem for p in NOTEBOOKS if not results_path(P.output, p.stem).is_file()
                 or results_path(P.output, p.stem).stat().st_mtime < nbval_run["start"]]
        assert not stale, f"notebooks {stale} recorded nothing in this session"
        summary = dict(profile="smoke", executor="nbval",
                       notebooks=[dict(notebook=p.stem, status="ok") for p in NOTEBOOKS])
        return Path(P.output), merge_results(P.output, summary), Path(P.runs_root)
    out = tmp_path_factory.mktemp("reproduce_smoke")
    # A cell timeout turns a hung kernel into a failure naming the cell instead of a stuck test run.
    merged = reproduce("smoke", output=out / "out", runs_root=out / "runs", progress=False, log=lambda m: None,
                       cell_timeout=300)
    return out / "out", merged, out / "runs"


def test_all_notebooks_run_in_the_smoke_profile(smoke_run):
    out, merged, _ = smoke_run
    ran = merged["run"]["notebooks"]
    assert [n["notebook"] for n in ran] == [p.stem for p in NOTEBOOKS]
    assert all(n["status"] == "ok" for n in ran)
    for path in NOTEBOOKS:
        assert merged["notebooks"].get(path.stem), f"{path.stem} recorded nothing"
        if merged["run"].get("executor") != "nbval":  # the runner also writes the HTML report
            assert (out / "html" / f"{path.stem}.html").is_file()
    assert json.loads((out / "results.json").read_text()) == merged


def test_smoke_results_of_01_and_02(smoke_run):
    _, merged, _ = smoke_run
    nb01 = merged["notebooks"]["01_augmentations"]
    assert nb01["replay_exact"] is True and nb01["descriptor_dim"] == 13 and nb01["augself_targets_swap_rule"]
    stats = {r["recipe"]: r for r in nb01["recipe_statistics"]}
    assert stats["spatial"]["p_jitter"] == 0 and stats["appearance"]["crop_area"] == 1 and stats["appearance"]["p_flip"] == 0
    nb02 = merged["notebooks"]["02_invariance"]
    assert {r["model"] for r in nb02["runs"]} == {"Default", "Spatial", "Appearance"}
    # The recorded summaries are the seed means of the recorded per-seed scores, with notebook 02's
    # grouping of transforms (spatial: crop, flip; colour: the six appearance transforms).
    scores = sorted(nb02["seed_scores"], key=lambda r: r["seed"])
    seed_mean = lambda model, column: statistics.fmean(r[column] for r in scores if r["model"] == model)
    synthetic, real = nb02["synthetic_invariance"], nb02["real_world_invariance"]
    for model in ("random init", "Default", "Spatial", "Appearance"):
        for column, transforms in (("spatial transforms", SPATIAL), ("colour transforms", COLOUR)):
            by_transform = statistics.fmean(synthetic[f"{model}/{t}"] for t in transforms)
            assert by_transform == pytest.approx(seed_mean(model, column), rel=1e-9, abs=1e-12), (model, column)
        for change in ("viewpoint", "lighting"):
            assert real[f"{model}/{change}"] == pytest.approx(seed_mean(model, change), rel=1e-9, abs=1e-12)
    # Each claim's numbers and verdict, recomputed from the recorded per-seed scores.
    claims = nb02["claims"]
    assert [c["quantity"] for c in claims] == [f"invariance to {q}" for q in CLAIMS_02]
    for claim in claims:
        quantity = claim["quantity"].removeprefix("invariance to ")
        winner, loser = CLAIMS_02[quantity]
        treatment = [r[quantity] for r in scores if r["model"] == winner]
        control = [r[quantity] for r in scores if r["model"] == loser]
        assert claim["measured"] == f"{winner}: {_pm(treatment)} vs {loser}: {_pm(control)}"
        assert claim["difference"] == _interval([t - c for t, c in zip(treatment, control)])
        wins = sum(t > c for t, c in zip(treatment, control))
        assert claim["seeds_agreeing"] == f"{wins}/{len(treatment)}"
        assert claim["verdict"] == compare(treatment, control)["verdict"]
        if len(treatment) < 2:  # the smoke profile's one seed: the rule can only say inconclusive
            assert claim["verdict"] == "inconclusive"


def test_every_claim_of_the_report_has_a_verdict_by_the_rule(smoke_run):
    _, merged, _ = smoke_run
    report = merged["notebooks"]["08_report"]
    # The report's claims are every source notebook's recorded claims, unchanged, in order.
    expected = [{**{k: c[k] for k in CLAIM_COLUMNS}, "notebook": nb}
                for nb in REPORT_SOURCES for c in merged["notebooks"][nb].get("claims", [])]
    assert report["claims"] and report["claims"] == expected
    for claim in report["claims"]:  # the verdict rule, applied to the recorded pieces
        wins, seeds = map(int, claim["seeds_agreeing"].split("/"))
        # the per-seed values kept with the claim (for judging it again on fewer seeds) are the ones
        # its row was computed from: the paired difference, its interval and the seed count
        values = claim["seeds"]
        sign = 1 if values["higher_is_better"] else -1
        d = [sign * (t + values["margin"] - c) for t, c in zip(values["treatment"], values["control"])]
        assert len(values["seeds"]) == seeds and sum(x > 0 for x in d) == wins, claim
        if values["digits"] == 3:
            assert claim["difference"] == _interval(d), claim
        _, low, high = _parse_interval(claim["difference"])
        if seeds < MIN_SEEDS:
            assert claim["verdict"] == "inconclusive", claim
        elif claim["verdict"] == "reproduced":
            assert low >= 0 and wins == seeds, claim  # printed bounds are rounded
        elif claim["verdict"] == "not reproduced":
            assert high <= (0 if claim["target"] == "n/a" else float(claim["target"])), claim
        elif claim["verdict"] == "cannot show here":
            assert low <= 0 <= high and float(claim["headroom"]) < float(claim["detectable"]), claim
        else:
            assert claim["verdict"] == "inconclusive" and low <= 0 <= high, claim
    counts = Counter((c["paper"], c["verdict"]) for c in report["claims"])
    assert {r["paper"] for r in report["verdict_counts"]} == {c["paper"] for c in report["claims"]}
    for row in report["verdict_counts"]:
        assert {v: row[v] for v in VERDICTS} == {v: counts[row["paper"], v] for v in VERDICTS}
    summary = report["summary"]
    assert summary["claims"] == len(report["claims"])
    # the smoke profile has no floors: no seed missed one, nothing was judged again
    assert summary["failed_seeds"] == [] and report["claims_without_failed_seeds"] == []
    assert {v: summary.get(v, 0) for v in VERDICTS} == {v: sum(n for (_, w), n in counts.items() if w == v)
                                                         for v in VERDICTS}
    papers = {c["paper"] for c in report["claims"]}
    assert {"Ericsson et al.", "AugSelf", "CASSLE"} <= papers


def test_notebook_02_trains_through_get_or_train_so_later_notebooks_reuse_its_runs(smoke_run):
    # Same profile + same config -> same folder, already finished: a later notebook asking for
    # the same model trains nothing (get_or_train's reuse itself is tested in test_runs.py).
    _, merged, runs_root = smoke_run
    profile = resolve("smoke", runs_root=runs_root)
    for run in merged["notebooks"]["02_invariance"]["runs"]:
        cfg = experiments.get(run["model"]).config(profile, run["seed"])
        assert is_finished(runs_root / run_name(cfg), cfg)


def test_an_unknown_profile_fails_in_the_notebook_with_a_clear_error(tmp_path):
    with pytest.raises(NotebookFailed, match=r"01_augmentations failed in cell \d+.*ValueError: unknown profile 'nope'"):
        run_notebook(NOTEBOOK_DIR / "01_augmentations.ipynb", tmp_path,
                     {"profile": "nope", "output": str(tmp_path)}, progress=False)


def test_an_unknown_parameter_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['epoch'\] for notebook 02_invariance"):
        run_notebook(NOTEBOOK_DIR / "02_invariance.ipynb", tmp_path, {"profile": "smoke", "epoch": 1})
