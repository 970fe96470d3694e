"""`python -m torchbridge.crosscheck [--only NAME] [--dtype D] [--device cpu|cuda]`.

Prints one row per case and dtype: errors JAX-vs-reference, torch-vs-reference
and JAX-vs-torch, the tolerance, both timings and PASS/FAIL. Exits 1 when any
case fails or errors.
"""

from __future__ import annotations

import os
import sys

import jax
from absl import app, flags

from torchbridge.crosscheck import registry

_ONLY = flags.DEFINE_list("only", None, "Case names or name prefixes (comma-separated).")
_DTYPE = flags.DEFINE_enum("dtype", None, ["float16", "bfloat16", "float32", "float64"],
                           "Run only this dtype (default: every dtype of each case).")
_DEVICE = flags.DEFINE_enum("device", "cpu", ["cpu", "cuda"], "Device to run on.")
_LIST = flags.DEFINE_bool("list", False, "List the case names and exit.")


def _fmt_err(e: float) -> str:
    return f"{e:9.2e}"


def _fmt_time(t: float) -> str:
    if t != t:  # NaN
        return "       -"
    return f"{t * 1e3:7.2f}ms" if t < 10 else f"{t:7.1f}s "


def main(argv: list[str]) -> int:
    del argv
    if _DEVICE.value == "cpu":
        os.environ.setdefault("TRITON_INTERPRET", "1")
        jax.config.update("jax_platforms", "cpu")

    cases = registry.select(registry.all_cases(), _ONLY.value)
    if _LIST.value:
        for case in cases:
            print(f"{case.name:40s} {','.join(case.dtypes)}")
        return 0
    header = (f"{'case':38s} {'dtype':9s} {'device':6s} {'jax-ref':>9s} {'torch-ref':>9s} "
              f"{'jax-torch':>9s} {'tol':>8s} {'t_jax':>9s} {'t_torch':>9s}  status")
    print(header)
    print("-" * len(header))
    counts: dict[str, int] = {}
    for case in cases:
        dtypes = [_DTYPE.value] if _DTYPE.value else list(case.dtypes)
        for dtype in dtypes:
            r = registry.run_case(case, dtype, _DEVICE.value)
            counts[r.status] = counts.get(r.status, 0) + 1
            if r.status == "SKIP" and _DTYPE.value is None:
                continue
            print(f"{r.name:38s} {r.dtype:9s} {r.device:6s} {_fmt_err(r.err_jax_ref)} "
                  f"{_fmt_err(r.err_torch_ref)} {_fmt_err(r.err_jax_torch)} {r.tol:8.1e} "
                  f"{_fmt_time(r.time_jax)} {_fmt_time(r.time_torch)}  {r.status}", flush=True)
            if r.status in ("FAIL", "ERROR"):
                print(f"    -> {r.message}")
    failed = counts.get("FAIL", 0) + counts.get("ERROR", 0)
    print(f"\n{counts.get('PASS', 0)} passed, {failed} failed, {counts.get('SKIP', 0)} skipped")
    return 1 if counts.get("FAIL", 0) or counts.get("ERROR", 0) else 0


def run() -> None:
    app.run(lambda argv: sys.exit(main(argv)))


if __name__ == "__main__":
    run()
