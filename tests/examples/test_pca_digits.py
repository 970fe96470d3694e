"""Smoke test: examples/pca_digits.py runs with few components, writes its PNG, matches sklearn."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

_SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "examples" / "pca_digits.py"


def test_pca_digits_example(tmp_path):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    done = subprocess.run(
        [sys.executable, str(_SCRIPT), "--n_components=4", f"--out_dir={tmp_path}"],
        capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    png = tmp_path / "pca_digits.png"
    assert png.exists() and png.stat().st_size > 10_000
    rows = re.findall(r"^(eigh|svd|randomized)\s+([\d.]+)\s+([\d.]+)\s+([\d.e+-]+)\s+([\d.e+-]+)",
                      done.stdout, flags=re.M)
    assert [r[0] for r in rows] == ["eigh", "svd", "randomized"], done.stdout
    for method, _, ratio2, d_comp, d_var in rows:
        assert abs(float(ratio2) - 0.285) < 0.005, (method, ratio2)     # ~28% (notes)
        assert float(d_comp) < 1e-4, (method, d_comp)                  # float32 vs sklearn
        assert float(d_var) < 1e-2, (method, d_var)
