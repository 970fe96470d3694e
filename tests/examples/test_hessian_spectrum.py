"""Smoke test: examples/hessian_spectrum.py with a tiny MLP; Lanczos on the HVP operator
must match the dense Hessian's top eigenvalues, and the PNG must be written."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

_SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "examples" / "hessian_spectrum.py"


def test_hessian_spectrum_example(tmp_path):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    done = subprocess.run(
        [sys.executable, str(_SCRIPT), "--hidden=4", "--steps=30", "--k=3", "--lanczos_iters=30",
         "--n_samples=200", f"--out_dir={tmp_path}"],
        capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    png = tmp_path / "hessian_spectrum.png"
    assert png.exists() and png.stat().st_size > 10_000
    params = int(re.search(r"(\d+) parameters", done.stdout).group(1))
    assert params == 64 * 4 + 4 + 4 * 10 + 10
    trained = [float(v) for v in re.search(r"lanczos top-k \(trained\):\s+(.*)",
                                           done.stdout).group(1).split()]
    assert len(trained) == 3 and trained == sorted(trained, reverse=True) and trained[-1] > 0
    rel = float(re.search(r"max_rel_error ([\d.e+-]+)", done.stdout).group(1))
    assert rel < 1e-4, done.stdout  # float32 Lanczos vs float64 dense eigvalsh
    loss = float(re.search(r"final loss ([\d.]+)", done.stdout).group(1))
    assert 0 < loss < 2.3  # below log(10): training made progress
