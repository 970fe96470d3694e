"""Smoke test: examples/pca_digits.py runs with few components, writes its PNG, matches sklearn."""

from __future__ import annotations

import re


def test_pca_digits_example(run_example):
    stdout = run_example("pca_digits", "--n_components=4")
    rows = re.findall(r"^(eigh|svd|randomized)\s+([\d.]+)\s+([\d.]+)\s+([\d.e+-]+)\s+([\d.e+-]+)",
                      stdout, flags=re.M)
    assert [r[0] for r in rows] == ["eigh", "svd", "randomized"], stdout
    for method, _, ratio2, d_comp, d_var in rows:
        assert abs(float(ratio2) - 0.285) < 0.005, (method, ratio2)     # ~28% (notes)
        assert float(d_comp) < 1e-4, (method, d_comp)                  # float32 vs sklearn
        assert float(d_var) < 1e-2, (method, d_var)
