"""Smoke test: examples/low_rank_image.py on a downsampled image, tiny ranks."""

from __future__ import annotations

import re


def test_low_rank_image_example(run_example):
    stdout = run_example("low_rank_image", "--downsample=4", "--ranks=3,10", "--repeats=1")
    assert re.search(r"107×160 grey levels", stdout), stdout
    rows = re.findall(r"^\s*(\d+)\s+([\d.e+-]+)\s+([\d.e+-]+)\s+([\d.]+)\s", stdout,
                      flags=re.M)
    assert [int(r[0]) for r in rows] == [3, 10], stdout
    errors = []
    for _, err, optimal, ratio in rows:
        err, optimal, ratio = float(err), float(optimal), float(ratio)
        assert 0 < optimal <= err < 1
        assert ratio < 1.1, ratio          # randomized is within 10% of Eckart–Young
        errors.append(err)
    assert errors[1] < errors[0]           # more rank, less error
