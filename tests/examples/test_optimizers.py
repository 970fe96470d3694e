"""Smoke test: examples/optimizers.py runs at tiny sizes, writes its PNG, prints sane rates."""

from __future__ import annotations

import math
import os
import pathlib
import re
import subprocess
import sys

_SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "examples" / "optimizers.py"


def test_optimizers_example(tmp_path):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    done = subprocess.run(
        [sys.executable, str(_SCRIPT), "--n=16", "--kappas=10,100", "--num_steps=400",
         f"--out_dir={tmp_path}"],
        capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    png = tmp_path / "optimizers.png"
    assert png.exists() and png.stat().st_size > 10_000
    rows = re.findall(r"^\s*(\S+)\s+(gradient descent|heavy ball|Nesterov|conjugate gradient)"
                      r"\s+([\d.]+)\s+([\d.]+)", done.stdout, flags=re.M)
    assert len(rows) == 8, done.stdout
    assert done.stdout.count("Lanczos bounds") == 2, done.stdout
    for kappa, method, measured, predicted in rows:
        measured, predicted = float(measured), float(predicted)
        assert 0.0 < measured < 1.0, (kappa, method, measured)
        log_ratio = math.log(measured) / math.log(predicted)
        if method == "gradient descent":
            assert abs(log_ratio - 1) < 0.05, (kappa, measured, predicted)
        elif method in ("heavy ball", "Nesterov"):  # finite-window bias, see the example
            assert abs(log_ratio - 1) < 0.25, (kappa, measured, predicted)
        else:  # CG's average rate beats its worst-case bound
            assert measured <= predicted + 1e-3, (kappa, measured, predicted)

