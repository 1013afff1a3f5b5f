"""Every GPU number benchmarks/RESULTS.md reports, from one call: `bash benchmarks/gpu.sh`.

    bash benchmarks/gpu.sh                         # on a GPU machine: about 6 minutes on one H200
    bash benchmarks/gpu.sh --device cpu --smoke    # the same code paths on CPU in under a minute
    bash benchmarks/gpu.sh --epochs 12 --skip augmentation   # a shorter validity check, a section left out

Writes ``<out>/gpu-report.md`` and ``<out>/gpu-report.json`` (default out: outputs/gpu-report):

1. the machine: device, torch, CUDA;
2. the CUDA tests (pytest, the tests that skip without a GPU, plus the compiled-step tests);
3. augmentation throughput: two SimCLR views per call, 32 px x 512 and 96 px x 256, ssl_lib
   against torchvision per image (and kornia when it is installed);
4. training throughput, eager and with `--compile` (CUDA graphs on CUDA): ResNet-18 at 96 px,
   batch 256 (SimCLR, MoCo v2, BYOL eager; SimCLR compiled) and the cpu profile's small CNN at
   32 px (SimCLR);
5. the validity check (`ssl_lib.lab.validity`) of the `long` profile (the claims' bench: its
   design, 24 epochs unless `--epochs`) on one seed: content learned and headroom per factor,
   and its wall time, from which the `long` reproduction's GPU time follows (README).

Each section runs on its own: a failure is written into the report and the next section runs.
Needs torch, torchvision, numpy, scipy, pandas and scikit-learn only (pytest for section 2);
runs from the source tree (gpu.sh sets PYTHONPATH), no install, no Jupyter.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def machine(device: str) -> dict:
    info = dict(torch=torch.__version__, python=platform.python_version(), device=device)
    if device.startswith("cuda"):
        info.update(gpu=torch.cuda.get_device_name(), cuda=torch.version.cuda, gpus=torch.cuda.device_count())
    else:
        info.update(cpu=platform.processor() or platform.machine(), threads=torch.get_num_threads())
    return info


def cuda_tests(device: str, smoke: bool) -> dict:
    """The tests that need a GPU, and the compiled-step tests, through pytest (if installed)."""
    if importlib.util.find_spec("pytest") is None:
        return dict(status="skipped", reason="pytest is not installed")
    tests = ["tests/train/test_engine_step.py", "tests/data/test_synthetic.py"]
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", *tests]
    if smoke:
        args += ["-k", "cuda or graph_break"]
    start = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-300:]
    return dict(status="passed" if done.returncode == 0 else "failed", summary=tail,
                seconds=round(time.perf_counter() - start, 1))


def augmentation(device: str, smoke: bool) -> dict:
    import augment_throughput

    contenders = ["ssl_lib", "torchvision_per_image"] + (["kornia"] if importlib.util.find_spec("kornia") else [])
    settings = "32:64" if smoke else "32:512,96:256"
    return augment_throughput.main(["--device", device, "--settings", settings, "--rounds", "2" if smoke else "5",
                                    "--contenders", ",".join(contenders)])


def training(device: str, smoke: bool) -> dict:
    import train_throughput

    runs = []
    if smoke:  # the compile path is the unit tests' (seconds); here only the script's own code
        settings = [("small_cnn 32 px", ["--backbone", "small_cnn", "--image-size", "32", "--batch-size", "32",
                                         "--methods", "simclr"], [False])]
        steps = ["--steps", "2", "--warmup", "1"]
    else:
        # Compiling costs a minute or more per graph: the compiled column is SimCLR's alone, so the
        # whole call stays inside one 8-minute device slot.
        resnet = ["--backbone", "resnet18", "--image-size", "96", "--batch-size", "256"]
        settings = [("resnet18 96 px", resnet + ["--methods", "simclr,mocov2,byol"], [False]),
                    ("resnet18 96 px", resnet + ["--methods", "simclr"], [True]),
                    ("small_cnn 32 px (cpu profile)", ["--profile", "cpu", "--methods", "simclr"], [False, True])]
        steps = ["--steps", "20", "--warmup", "5"]
    for name, args, compiles in settings:
        for compiled in compiles:
            start = time.perf_counter()
            report = train_throughput.main(["--device", device, *args, *steps] + (["--compile"] if compiled else []))
            runs.append(dict(setting=name, compile=compiled, seconds=round(time.perf_counter() - start, 1),
                             methods=report["methods"]))
    return dict(runs=runs)


def validity_check(device: str, smoke: bool, epochs: int, out: Path) -> dict:
    from ssl_lib.lab import validity
    from ssl_lib.lab.profiles import resolve

    P = resolve("smoke" if smoke else "long", seeds=[0], device=device, epochs=epochs,
                runs_root=str(out / "runs"), output=str(out / "validity"))
    start = time.perf_counter()
    table = validity.measure(P, log=lambda message: None)
    return dict(profile=P.name, epochs=P.train_config().epochs, seed=0, seconds=round(time.perf_counter() - start, 1),
                table=json.loads(table.to_json(orient="records")),
                failures=validity.check_floors(table, P.validity or validity.ValidityFloors()))


def _markdown(report: dict) -> str:
    lines = ["# GPU report", "", f"Command: `bash benchmarks/gpu.sh {' '.join(report['argv'])}`", "",
             "## Machine", ""]
    lines += [f"- {key}: {value}" for key, value in report["machine"].items()]
    for section in ("cuda_tests", "augmentation", "training", "validity"):
        body = report.get(section)
        lines += ["", f"## {section.replace('_', ' ')}", ""]
        if body is None:
            lines.append("not run")
        elif "error" in body:
            lines.append(f"FAILED: {body['error']}")
        elif section == "cuda_tests":
            lines.append(f"{body['status']}: {body.get('summary') or body.get('reason')}")
        elif section == "augmentation":
            lines += ["| size | batch | contender | ms / call | images / s |", "|---:|---:|---|---:|---:|"]
            lines += [f"| {r['size']} | {r['batch']} | {r['contender']} | {r['ms_per_call']:.2f} | "
                      f"{r['images_per_s']:.0f} |" for r in body["results"]]
        elif section == "training":
            lines += ["| setting | compile | method | batch | step ms | aug ms | views / s |",
                      "|---|---|---|---:|---:|---:|---:|"]
            lines += [f"| {run['setting']} | {'yes' if run['compile'] else 'no'} | {m['method']} | {m['batch']} | "
                      f"{m['step_ms']:.1f} | {m['aug_ms']:.2f} | {m['views_per_s']:.0f} |"
                      for run in body["runs"] for m in run["methods"]]
        elif section == "validity":
            lines.append(f"profile {body['profile']}, {body['epochs']} epochs, seed 0: {body['seconds']:.0f} s")
            lines += ["", "| measure | model | factor | value |", "|---|---|---|---:|"]
            lines += [f"| {r['measure']} | {r['model']} | {r['factor']} | {r['value']:+.3f} |" for r in body["table"]]
            lines += ["", "floors missed: " + ("; ".join(body["failures"]) or "none")]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: every code path in under a minute")
    parser.add_argument("--epochs", type=int, default=None, help="validity check length (default: the long profile's 24; smoke 1)")
    parser.add_argument("--out", default=str(ROOT / "outputs" / "gpu-report"))
    parser.add_argument("--skip", default="", help="comma-separated sections to leave out")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available (use --device cpu --smoke to check the script)",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.device == "cpu":
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    epochs = args.epochs or (1 if args.smoke else None)  # None: the profile's own length
    report = dict(argv=list(argv if argv is not None else sys.argv[1:]), machine=machine(args.device),
                  started=time.strftime("%Y-%m-%d %H:%M:%S"))
    sections = dict(cuda_tests=lambda: cuda_tests(args.device, args.smoke),
                    augmentation=lambda: augmentation(args.device, args.smoke),
                    training=lambda: training(args.device, args.smoke),
                    validity=lambda: validity_check(args.device, args.smoke, epochs, out))
    skip = set(filter(None, args.skip.split(",")))
    start = time.perf_counter()
    for name, run in sections.items():
        if name in skip:
            continue
        print(f"== {name}", flush=True)
        try:
            report[name] = run()
        except Exception as error:  # one failing section must not lose the others' numbers
            traceback.print_exc()
            report[name] = dict(error=f"{type(error).__name__}: {error}")
        # written after every section, so a call stopped at its time limit keeps what it measured
        report["seconds"] = round(time.perf_counter() - start, 1)
        (out / "gpu-report.json").write_text(json.dumps(report, indent=2, default=str))
        (out / "gpu-report.md").write_text(_markdown(report))
    print(f"report: {out / 'gpu-report.md'} ({report['seconds']:.0f} s)")
    failed = [name for name in sections if isinstance(report.get(name), dict) and
              ("error" in report[name] or report[name].get("status") == "failed")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
