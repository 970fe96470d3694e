"""Smoke test: examples/hessian_spectrum.py with a tiny MLP; Lanczos on the HVP operator
must match the dense Hessian's top eigenvalues, and the PNG must be written."""

from __future__ import annotations

import re


def test_hessian_spectrum_example(run_example):
    stdout = run_example("hessian_spectrum", "--hidden=4", "--steps=30", "--k=3",
                         "--lanczos_iters=30", "--n_samples=200")
    params = int(re.search(r"(\d+) parameters", stdout).group(1))
    assert params == 64 * 4 + 4 + 4 * 10 + 10
    trained = [float(v) for v in re.search(r"lanczos top-k \(trained\):\s+(.*)",
                                           stdout).group(1).split()]
    assert len(trained) == 3 and trained == sorted(trained, reverse=True) and trained[-1] > 0
    rel = float(re.search(r"max_rel_error ([\d.e+-]+)", stdout).group(1))
    assert rel < 1e-4, stdout  # float32 Lanczos vs float64 dense eigvalsh
    loss = float(re.search(r"final loss ([\d.]+)", stdout).group(1))
    assert 0 < loss < 2.3  # below log(10): training made progress
