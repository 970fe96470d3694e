"""Smoke test: examples/low_rank_image.py on a downsampled image, tiny ranks."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

_SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "examples" / "low_rank_image.py"


def test_low_rank_image_example(tmp_path):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    done = subprocess.run(
        [sys.executable, str(_SCRIPT), "--downsample=4", "--ranks=3,10", "--repeats=1",
         f"--out_dir={tmp_path}"],
        capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    png = tmp_path / "low_rank_image.png"
    assert png.exists() and png.stat().st_size > 10_000
    assert re.search(r"107×160 grey levels", done.stdout), done.stdout
    rows = re.findall(r"^\s*(\d+)\s+([\d.e+-]+)\s+([\d.e+-]+)\s+([\d.]+)\s", done.stdout,
                      flags=re.M)
    assert [int(r[0]) for r in rows] == [3, 10], done.stdout
    errors = []
    for _, err, optimal, ratio in rows:
        err, optimal, ratio = float(err), float(optimal), float(ratio)
        assert 0 < optimal <= err < 1
        assert ratio < 1.1, ratio          # randomized is within 10% of Eckart–Young
        errors.append(err)
    assert errors[1] < errors[0]           # more rank, less error
