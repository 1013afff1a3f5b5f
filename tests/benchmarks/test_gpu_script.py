"""benchmarks/gpu.sh, the one prepared GPU call, runs its every section on CPU in smoke mode
(so it cannot rot between the sessions that get a GPU)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_gpu_script_runs_every_section_on_cpu_in_smoke_mode(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable)
    done = subprocess.run(["bash", str(ROOT / "benchmarks/gpu.sh"), "--device", "cpu", "--smoke", "--out",
                           str(tmp_path)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "gpu-report.json").read_text())
    for section in ("cuda_tests", "augmentation", "training", "validity"):
        assert "error" not in report[section], report[section]
    assert report["training"]["runs"][0]["methods"][0]["views_per_s"] > 0
    assert {row["measure"] for row in report["validity"]["table"]} == {"content", "headroom"}
    markdown = (tmp_path / "gpu-report.md").read_text()
    assert "## augmentation" in markdown and "| ssl_lib |" in markdown


def test_the_gpu_script_refuses_cuda_without_a_gpu(tmp_path):
    import torch

    if torch.cuda.is_available():
        return
    env = dict(os.environ, PYTHON=sys.executable)
    done = subprocess.run(["bash", str(ROOT / "benchmarks/gpu.sh"), "--out", str(tmp_path)], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 2 and done.stderr.strip().startswith("error: --device cuda")
