"""Smoke test: examples/optimizers.py runs at tiny sizes, writes its PNG, prints sane rates."""

from __future__ import annotations

import math
import re


def test_optimizers_example(run_example):
    stdout = run_example("optimizers", "--n=16", "--kappas=10,100", "--num_steps=400")
    rows = re.findall(r"^\s*(\S+)\s+(gradient descent|heavy ball|Nesterov|conjugate gradient)"
                      r"\s+([\d.]+)\s+([\d.]+)", stdout, flags=re.M)
    assert len(rows) == 8, stdout
    assert stdout.count("Lanczos bounds") == 2, stdout
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

