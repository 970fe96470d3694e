"""The registry machinery and the `python -m torchbridge.crosscheck` report."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from absl import flags

from torchbridge.crosscheck import Case, fields, registry, run_case, select, values


def _case(**overrides):
    base = dict(
        name="probe/sum",
        make_inputs=lambda rng: (rng.standard_normal((4, 3)),),
        reference=lambda x: x.sum(0),
        jax_fn=lambda x: x.sum(0),
        torch_fn=lambda x: x.sum(0),
    )
    base.update(overrides)
    return Case(**base)


def test_passing_case_reports_three_errors_and_timings():
    r = run_case(_case(), "float64")
    assert r.status == "PASS"
    assert max(r.err_jax_ref, r.err_torch_ref, r.err_jax_torch) < 1e-14
    assert r.time_jax > 0 and r.time_torch > 0


def test_a_wrong_twin_fails():
    r = run_case(_case(torch_fn=lambda x: x.sum(0) * (1 + 1e-3)), "float32")
    assert r.status == "FAIL"
    assert r.err_torch_ref > r.tol and r.err_jax_torch > r.tol and r.err_jax_ref < r.tol
    assert "exceed tolerance" in r.message


def test_an_exception_is_an_error_not_a_pass():
    def boom(x):
        raise RuntimeError("kaput")

    r = run_case(_case(jax_fn=boom), "float32")
    assert r.status == "ERROR" and "kaput" in r.message


def test_inputs_are_shared_through_dlpack_and_cast():
    seen = {}

    def torch_fn(x):
        seen["dtype"] = x.dtype
        return x.sum(0)

    assert run_case(_case(torch_fn=torch_fn, jit=False), "float32").status == "PASS"
    assert seen["dtype"] == torch.float32


def test_skips_unlisted_dtype_and_missing_device():
    assert run_case(_case(dtypes=("float64",)), "float32").status == "SKIP"
    if not torch.cuda.is_available():
        assert run_case(_case(), "float32", "cuda").status == "SKIP"


def test_fields_comparator_and_tolerance_override():
    cmp = fields(_0=values)
    assert cmp((np.ones(2), "x"), (np.ones(2), "y"), ()) == 0.0
    assert _case(tol={"float32": 1e-2}).tolerance("float32") == 1e-2


def test_select():
    cases = [_case(name="a/x"), _case(name="a/y"), _case(name="ab/z")]
    assert [c.name for c in select(cases, ["a"])] == ["a/x", "a/y"]
    assert [c.name for c in select(cases, ["ab/z"])] == ["ab/z"]
    with pytest.raises(ValueError, match="matched no case"):
        select(cases, ["nope"])


def test_duplicate_names_are_rejected():
    name = registry.all_cases()[0].name
    with pytest.raises(ValueError, match="duplicate"):
        registry.register(_case(name=name))


def test_report_exits_nonzero_on_failure(monkeypatch, capsys):
    from torchbridge.crosscheck import __main__ as report

    bad = _case(name="probe/bad", torch_fn=lambda x: x.sum(0) + 1)
    monkeypatch.setattr(registry, "all_cases", lambda: [_case(), bad])
    flags.FLAGS(["crosscheck", "--only=probe"])
    try:
        assert report.main([]) == 1
    finally:
        flags.FLAGS.unparse_flags()
    out = capsys.readouterr().out
    assert "probe/sum" in out and "PASS" in out and "FAIL" in out
    assert "1 failed" in out or "2 failed" in out


def test_report_cli_runs_and_exits_zero():
    out = subprocess.run(
        [sys.executable, "-m", "torchbridge.crosscheck", "--only=roundtrip,trace",
         "--dtype=float64"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "roundtrip/real" in out.stdout and "trace/batch" in out.stdout
    assert "0 failed" in out.stdout
