"""Run the notebooks of a profile end to end: executed notebooks, an HTML report, results.json.

    python -m ssl_lib.reproduce --profile cpu --output outputs/cpu [--notebooks 01,02]
    make reproduce PROFILE=smoke                      # the same, through make

Each notebook is executed by papermill with the parameters ``profile``, ``output`` and
``runs_root`` (plus any override: seeds, device, dataset, data_root, epochs).  Inside, the
notebook records its key numbers with ``record = recorder(P, "02_invariance")`` and
``record("name", value)``, which writes ``<output>/results/<notebook>.json`` atomically; the
runner merges them into ``<output>/results.json``.  Layout of ``<output>``::

    notebooks/<name>.ipynb   executed notebooks (with outputs)
    html/<name>.html         the same, converted; html/index.html links them
    results/<name>.json      what each notebook recorded
    results.json             all of it, with the profile, timings and status per notebook

Before the first notebook, `ssl_lib.lab.prepare` trains every run the chosen notebooks and the
validity check need, ``jobs`` at a time (``--jobs N``, ``make reproduce JOBS=N``; default: one
single-threaded worker per core on CPU, one per GPU on CUDA), and probes each; the notebooks then
find them finished. Then `ssl_lib.lab.validity` checks on synthetic data that the bench can
show the papers' effects at all (SSL learns the content; the augmentations leave headroom) and
records it as ``results/00_validity.json``. A missed floor does not stop the notebooks (the report
shows the verdicts next to the missed floor), but the run then ends with `BenchInvalid` (exit
status 1, one line naming the floor): verdicts on an invalid bench cannot be taken at face value.

A failing cell stops the run with `NotebookFailed`, whose message names the notebook, the cell
and the exception. The command line prints one ``error: ...`` line and exits with status 2 for
bad input (checked before any notebook starts: arguments, profile, device, training settings)
and 1 for a failed run (a failing cell, an output folder that cannot be written).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ssl_lib.data.datasets import DatasetNotFoundError, require_present
from ssl_lib.lab.html_report import write_report
from ssl_lib.lab.profiles import OVERRIDES, PROFILES, project_root, resolve
from ssl_lib.lab import prepare
from ssl_lib.lab.plan import format_plan, plan
from ssl_lib.lab import validity as bench_validity
from ssl_lib.lab.results import RESULTS, merge_results, results_path
from ssl_lib.lab.runs import is_finished, run_name
from ssl_lib.utils.cli import OneLineParser, print_error
from ssl_lib.utils.checks import check_device
from ssl_lib.utils.io import check_folder_path

NOTEBOOK_DIR = project_root() / "notebooks"
KERNEL_NAME = "ssl-lib"


class NotebookFailed(RuntimeError):
    """A notebook raised in one of its cells.

    Attributes: notebook (name), cell_index (0-based position of the failing cell in the
    committed notebook, markdown cells included), exec_count (its In [n]), source (its first
    line), ename / evalue (the exception), path (the executed notebook with the traceback).
    """

    def __init__(self, notebook: str, cell_index: int | None, exec_count, ename: str, evalue: str, path: Path,
                 source: str = ""):
        self.notebook, self.cell_index, self.exec_count, self.source = notebook, cell_index, exec_count, source
        self.ename, self.evalue, self.path = ename, evalue, path
        where = f"cell {cell_index + 1}" if cell_index is not None else "an unknown cell"
        if exec_count is not None:
            where += f" (In [{exec_count}])"
        if source:
            where += f" `{source}`"
        super().__init__(f"notebook {notebook} failed in {where}: {ename}: {evalue}\n"
                         f"  the executed notebook, with the traceback, is {path}")


# papermill adds these cells to the executed notebook; they are not in the committed one.
_PAPERMILL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}


def _failing_cell(executed: Path) -> tuple[int | None, str]:
    """(0-based index in the committed notebook, first source line) of the first cell whose
    outputs hold an error, read from the executed notebook papermill wrote."""
    import nbformat

    try:
        nb = nbformat.read(str(executed), as_version=4)
    except (OSError, ValueError):
        return None, ""
    index = 0
    for cell in nb.cells:
        if _PAPERMILL_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            return index, first[:80]
        index += 1
    return None, ""


# -- finding and checking notebooks ---------------------------------------------------------


def list_notebooks(selection=None, folder=None) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) in run order, optionally a selection.

    selection: None (all), or names / numbers: "01,02", ["02_invariance"], "1".  Unknown
    entries raise ValueError naming them and the available notebooks.
    """
    folder = Path(folder) if folder is not None else NOTEBOOK_DIR
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if selection is None:
        return found
    wanted = [s.strip() for s in (selection.split(",") if isinstance(selection, str) else selection) if str(s).strip()]
    chosen = []
    for item in wanted:
        item = str(item).removesuffix(".ipynb")
        matches = [p for p in found if p.stem == item or p.stem.split("_")[0] == item.zfill(2)]
        if not matches:
            raise ValueError(f"unknown notebook {item!r}; available: {[p.stem for p in found]}")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def notebook_parameters(path) -> list[str]:
    """Names declared in the notebook's cell tagged ``parameters`` (ValueError if it has none)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise ValueError(f"notebook {Path(path).stem} has no cell tagged 'parameters'")
    import papermill

    return list(papermill.inspect_notebook(str(path)))


def check_parameters(path, parameters: dict) -> None:
    """ValueError naming parameters the notebook does not declare (papermill only warns)."""
    declared = notebook_parameters(path)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for notebook {Path(path).stem}; "
                         f"it declares {declared}")


# -- the kernel ------------------------------------------------------------------------------


def ensure_kernel(name: str = KERNEL_NAME) -> str:
    """Install (once) a Jupyter kernel ``name`` running this Python, inside this environment.

    papermill starts the kernel the notebook names; a kernelspec pointing at this interpreter
    (``sys.prefix``, not the user's home) makes a fresh clone's ``.venv`` work without a
    global Jupyter setup. Returns the kernel name.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
        if spec.argv and Path(spec.argv[0]).resolve() == Path(sys.executable).resolve():
            return name
    except NoSuchKernel:
        pass
    from ipykernel.kernelspec import install

    install(kernel_name=name, display_name=f"Python ({name})", prefix=sys.prefix)
    return name


# -- running ---------------------------------------------------------------------------------


def run_notebook(path, output_dir, parameters: dict, kernel_name: str | None = None,
                 progress: bool = True, cwd=None, cell_timeout: float | None = None) -> dict:
    """Execute one notebook with papermill into ``<output_dir>/notebooks/<name>.ipynb``.

    Raises ValueError for undeclared parameters (before starting a kernel) and NotebookFailed
    naming the cell when a cell raises (or runs longer than ``cell_timeout`` seconds).
    Returns ``{"notebook", "seconds", "path"}``.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    path = Path(path)
    check_parameters(path, parameters)
    executed = Path(output_dir) / "notebooks" / path.name
    executed.parent.mkdir(parents=True, exist_ok=True)
    results_path(output_dir, path.stem).unlink(missing_ok=True)  # no stale numbers from an older run
    start = time.perf_counter()
    try:
        papermill.execute_notebook(str(path), str(executed), parameters=parameters,
                                   kernel_name=kernel_name or ensure_kernel(), progress_bar=progress,
                                   cwd=str(cwd or path.parent), execution_timeout=cell_timeout)
    except PapermillExecutionError as error:
        # papermill's own cell_index counts its injected-parameters cell; report the position
        # in the notebook the user edits, and the cell's first line.
        index, source = _failing_cell(executed)
        raise NotebookFailed(path.stem, index, error.exec_count, error.ename, error.evalue, executed,
                             source) from None
    except TimeoutError as error:  # nbclient's CellTimeoutError: the cell ran past cell_timeout
        raise NotebookFailed(path.stem, None, None, type(error).__name__, str(error).splitlines()[0],
                             executed) from None
    return dict(notebook=path.stem, seconds=round(time.perf_counter() - start, 1), path=str(executed))


def _runs_to_train(P, notebooks, validity: bool) -> list:
    """The runs `notebooks` need under profile `P` that are not finished in its runs folder."""
    return [run for run in prepare.planned_runs(P, notebooks, validity)
            if not is_finished(Path(P.runs_root) / run_name(run.config), run.config)]


def reproduce(profile: str = "cpu", output=None, notebooks=None, progress: bool = True,
              report: bool = True, notebook_dir=None, log=None, cell_timeout: float | None = None,
              validity: bool = True, jobs: int | None = None, **overrides) -> dict:
    """Check the bench's validity, then run the selected notebooks of ``profile`` in order; write
    the report and results.json.

    overrides: profile overrides passed to every notebook as parameters (see
    `ssl_lib.profiles.OVERRIDES`; None = the profile's value). validity: False skips the check
    (it only runs on synthetic data). jobs: worker processes that train the needed runs before
    the first notebook (None: `prepare.default_jobs`; 0: none, the notebooks train them one by
    one). Returns the merged results. Raises BenchInvalid when the
    profile missed a validity floor (after every notebook ran) and NotebookFailed on the first
    failing cell, each after writing the report of what ran.
    """
    log = log or (lambda message: print(message, flush=True))
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise ValueError(f"unknown override(s) {unknown}; allowed: {list(OVERRIDES)}")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 0):
        raise ValueError(f"jobs must be a non-negative integer, got {jobs!r}")
    P = resolve(profile, output=output, **overrides)
    # Refuse bad settings now, not in the first notebook that trains (minutes later).
    if P.device != "auto":
        check_device(P.device)
    cfg = P.train_config()
    check_folder_path(P.output, "output")
    check_folder_path(P.runs_root, "runs_root")
    paths = list_notebooks(notebooks, notebook_dir)
    if not paths:
        raise ValueError(f"no notebooks to run in {notebook_dir or NOTEBOOK_DIR}")
    if P.dataset != "synthetic" and _runs_to_train(P, [p.stem for p in paths], validity):
        require_present(P.dataset, cfg.data_root)  # named now, not in a notebook's cell
    parameters = {"profile": P.name, "output": P.output, "runs_root": P.runs_root,
                  **{k: v for k, v in overrides.items() if v is not None and k not in ("output", "runs_root")}}
    if "seeds" in parameters:
        parameters["seeds"] = list(P.seeds)
    kernel = ensure_kernel()
    summary = dict(profile=P.name, output=P.output, runs_root=P.runs_root, parameters=parameters,
                   started=time.strftime("%Y-%m-%d %H:%M:%S"), notebooks=[])
    failure = invalid = None
    total = time.perf_counter()
    if P.dataset != "synthetic":  # real data, hours per run: say what it will cost before it starts
        log(format_plan(*plan(P, [p.stem for p in paths], validity, log=log)))
    if jobs is None:
        jobs = prepare.default_jobs(P.device)
    if jobs:
        planned = prepare.planned_runs(P, [p.stem for p in paths], validity)
        summary["runs"] = prepare.prepare_runs(P, planned, jobs, log=log) if planned else None
    if validity and P.dataset == "synthetic":
        start = time.perf_counter()
        log(f"[validity] content learned and headroom (profile {P.name}) ...")
        try:
            bench_validity.run(P, log=lambda message: None)
        except bench_validity.BenchInvalid as error:
            invalid = error
        summary["validity"] = dict(status="invalid" if invalid else "ok", seconds=round(time.perf_counter() - start, 1))
        log(f"[validity] {summary['validity']['status']} in {summary['validity']['seconds']:.0f} s"
            + (f": {invalid}" if invalid else ""))
    for i, path in enumerate(paths, 1):
        log(f"[{i}/{len(paths)}] {path.stem} (profile {P.name}) ...")
        try:
            entry = run_notebook(path, P.output, parameters, kernel, progress, cell_timeout=cell_timeout)
            entry["status"] = "ok"
        except NotebookFailed as error:
            failure = error
            entry = dict(notebook=path.stem, status="failed", error=str(error), path=str(error.path))
        summary["notebooks"].append(entry)
        log(f"[{i}/{len(paths)}] {path.stem}: {entry['status']}"
                + (f" in {entry['seconds']:.0f} s" if "seconds" in entry else ""))
        if failure:
            break
    summary["seconds"] = round(time.perf_counter() - total, 1)
    merged = merge_results(P.output, summary)
    if report:
        index = write_report(P.output, merged)
        log(f"report: {index}\nresults: {Path(P.output) / RESULTS}")
    if failure or invalid:
        raise failure or invalid
    return merged


# -- command line ----------------------------------------------------------------------------


def _seed_list(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",")]  # repeated seeds: refused by the profile
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, e.g. 0,1,2, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m ssl_lib.reproduce",
                           description="Run the notebooks of a profile; write an HTML report and results.json.")
    parser.add_argument("--profile", default="cpu", help=f"one of {sorted(PROFILES)} (default cpu)")
    parser.add_argument("--output", help="output folder (default outputs/<profile>)")
    parser.add_argument("--notebooks", help="comma-separated selection, e.g. 01,02 (default all)")
    parser.add_argument("--seeds", type=_seed_list, help="comma-separated seeds, e.g. 0,1,2 (default: the profile's)")
    parser.add_argument("--device", help="e.g. cpu, cuda (default: the profile's)")
    parser.add_argument("--dataset", help="pretraining dataset (default: the profile's)")
    parser.add_argument("--data-root", help="folder of real datasets")
    parser.add_argument("--epochs", type=int, help="pretraining epochs (default: the profile's)")
    parser.add_argument("--runs-root", help="folder of pretraining runs (default runs/<profile>)")
    parser.add_argument("--notebook-dir", help="folder of the NN_name.ipynb notebooks (default notebooks/)")
    parser.add_argument("--jobs", type=int, help="worker processes that train the runs before the notebooks "
                        "start, each with cores / jobs threads (default: one per core on CPU, one per GPU; "
                        "0: the notebooks train them one by one)")
    parser.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    parser.add_argument("--no-report", action="store_true", help="skip the HTML conversion")
    parser.add_argument("--no-validity", action="store_true",
                        help="skip the bench-validity check before the notebooks (ssl_lib.lab.validity)")
    parser.add_argument("--plan", action="store_true",
                        help="print the runs the notebooks need, their state, hours and disk (ssl_lib.lab.plan); "
                        "train nothing")
    return parser


def print_plan(args) -> None:
    """`--plan`: the plan of the chosen profile, notebooks and seeds, printed; nothing trained."""
    P = resolve(args.profile, seeds=args.seeds, device=args.device, dataset=args.dataset, data_root=args.data_root,
                epochs=args.epochs, runs_root=args.runs_root, output=args.output)
    notebooks = [p.stem for p in list_notebooks(args.notebooks, args.notebook_dir)]
    print(format_plan(*plan(P, notebooks, validity=not args.no_validity, log=print)), flush=True)


def main(argv=None) -> int:
    """Run the command; 0 on success, else one `error:` line and 2 (bad input) or 1 (failed run)."""
    try:
        args = build_parser().parse_args(argv)
        if args.plan:
            print_plan(args)
            return 0
        reproduce(args.profile, output=args.output, notebooks=args.notebooks, progress=not args.no_progress,
                  report=not args.no_report, notebook_dir=args.notebook_dir, validity=not args.no_validity,
                  jobs=args.jobs,
                  seeds=args.seeds, device=args.device,
                  dataset=args.dataset, data_root=args.data_root, epochs=args.epochs, runs_root=args.runs_root)
    except (ValueError, TypeError, DatasetNotFoundError) as error:  # the flags, the profile, the data
        return print_error(error, 2)
    except (NotebookFailed, bench_validity.BenchInvalid, OSError) as error:  # OSError: e.g. an unwritable output
        return print_error(error, 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
