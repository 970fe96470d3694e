"""The cross-check registry: one table of cases that drives tests and the report.

A `Case` names a JAX function, its PyTorch twin, an input builder producing
float64 NumPy inputs, a float64 NumPy/SciPy reference, a comparator and
per-dtype tolerances. `run_case` casts the inputs once to the dtype under test,
places them in JAX, shares them with torch through DLPack (zero-copy), runs
both implementations and the reference, and reports three pairwise errors
(JAX-vs-reference, torch-vs-reference, JAX-vs-torch) and both timings.

Cases live in `torchbridge/crosscheck/cases_*.py`; each module calls
`register(Case(...))` at import. `all_cases()` imports every such module.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxla._compat import enable_x64
from torchbridge import testing

Comparator = Callable[[Any, Any, tuple], float]
"""(result, other, inputs64) -> error. `other` is the reference or the other twin."""


# ------------------------------------------------------------------ comparators
def _leaves(tree: Any) -> list[Any]:
    return jax.tree_util.tree_leaves(
        tree, is_leaf=lambda x: hasattr(x, "detach") and hasattr(x, "resolve_conj")
    )


def _pairwise(metric: Callable[[Any, Any], float]) -> Comparator:
    def compare(result: Any, other: Any, inputs: tuple) -> float:
        del inputs
        a, b = _leaves(result), _leaves(other)
        if len(a) != len(b):
            raise ValueError(f"outputs have {len(a)} leaves, expected {len(b)}")
        return max((metric(x, y) for x, y in zip(a, b)), default=0.0)

    return compare


values: Comparator = _pairwise(testing.relative_error)
"""Norm-wise relative error, worst over all output leaves."""

eigvecs: Comparator = _pairwise(testing.eigvecs_error)
"""Column-wise error up to sign/phase, worst over all output leaves."""

subspace: Comparator = _pairwise(testing.subspace_error)
"""sin of the largest principal angle, worst over all output leaves."""


def fields(**per_field: Comparator) -> Comparator:
    """Compare selected fields (NamedTuple attributes or tuple indices `_0`, `_1`, ...)."""

    def get(tree: Any, key: str) -> Any:
        if key.startswith("_") and key[1:].isdigit():
            return tree[int(key[1:])]
        return getattr(tree, key)

    def compare(result: Any, other: Any, inputs: tuple) -> float:
        return max(fn(get(result, k), get(other, k), inputs) for k, fn in per_field.items())

    return compare


# ------------------------------------------------------------------------ cases
@dataclasses.dataclass(frozen=True)
class Case:
    """One cross-check.

    Attributes:
      name: unique id, "function/variant" (e.g. "cholesky/spd").
      make_inputs: rng -> tuple of float64 NumPy inputs (other values pass through).
      reference: float64 NumPy/SciPy implementation on those inputs.
      jax_fn: the `jaxla` function applied to JAX arrays (jitted unless `jit=False`).
      torch_fn: the `torchbridge.linalg` twin (or Triton kernel) on torch tensors.
      compare: comparator, see `values`, `eigvecs`, `subspace`, `fields`.
      tol: maximum error per dtype name; missing dtypes use `testing.tolerance`.
      dtypes: dtypes this case runs in.
      devices: devices this case can run on.
      jit: wrap `jax_fn` in `jax.jit`.
      cast: cast floating inputs to the dtype under test (False: keep float64/int).
      seed: seed of the input generator.
    """

    name: str
    make_inputs: Callable[[np.random.Generator], tuple]
    reference: Callable[..., Any]
    jax_fn: Callable[..., Any]
    torch_fn: Callable[..., Any]
    compare: Comparator = values
    tol: Mapping[str, float] = dataclasses.field(default_factory=dict)
    dtypes: tuple[str, ...] = ("float32", "float64")
    devices: tuple[str, ...] = ("cpu", "cuda")
    jit: bool = True
    cast: bool = True
    seed: int = 0

    def tolerance(self, dtype: str) -> float:
        return float(self.tol.get(dtype, testing.tolerance(dtype).rtol))


@dataclasses.dataclass
class CaseResult:
    """Outcome of one case at one dtype and device."""

    name: str
    dtype: str
    device: str
    status: str  # PASS | FAIL | ERROR | SKIP
    err_jax_ref: float = math.nan
    err_torch_ref: float = math.nan
    err_jax_torch: float = math.nan
    tol: float = math.nan
    time_jax: float = math.nan
    time_torch: float = math.nan
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("PASS", "SKIP")


_REGISTRY: dict[str, Case] = {}


def register(case: Case) -> Case:
    """Add `case` to the registry; names must be unique."""
    if case.name in _REGISTRY:
        raise ValueError(f"duplicate cross-check case name {case.name!r}")
    _REGISTRY[case.name] = case
    return case


def all_cases() -> list[Case]:
    """Every registered case, importing all `cases_*` modules first."""
    package = importlib.import_module("torchbridge.crosscheck")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("cases_"):
            importlib.import_module(f"torchbridge.crosscheck.{info.name}")
    return list(_REGISTRY.values())


def select(cases: Sequence[Case], only: Sequence[str] | None) -> list[Case]:
    """Cases whose name equals, or starts with `NAME/`, any entry of `only`."""
    if not only:
        return list(cases)
    chosen = [c for c in cases
              if any(c.name == o or c.name.startswith(o.rstrip("/") + "/") for o in only)]
    if not chosen:
        known = sorted({c.name.split("/")[0] for c in cases})
        raise ValueError(f"`--only` matched no case: {list(only)}; known: {known}")
    return chosen


# ---------------------------------------------------------------------- running
_FLOAT_DTYPES = {"float16", "bfloat16", "float32", "float64"}


def _cast(x: Any, dtype: str) -> Any:
    if isinstance(x, np.ndarray) and x.dtype.kind in "fc":
        if x.dtype.kind == "c":
            return x.astype(np.complex128 if dtype == "float64" else np.complex64)
        return x.astype(jnp.dtype(dtype))
    return x


def _device_available(device: str) -> bool:
    if device == "cpu":
        return True
    import torch

    if not torch.cuda.is_available():
        return False
    try:
        return bool(jax.devices("gpu"))
    except RuntimeError:
        return False


def _block(tree: Any) -> Any:
    for leaf in _leaves(tree):
        if isinstance(leaf, jax.Array):
            leaf.block_until_ready()
    return tree


def _timed(fn: Callable[[], Any], sync: Callable[[], None],
           budget: float = 0.5) -> tuple[Any, float]:
    """Run once to warm up (compile), then time up to 3 runs within `budget` s; min time."""
    out = fn()
    _block(out)
    sync()
    best, spent = math.inf, 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        out = fn()
        _block(out)
        sync()
        dt = time.perf_counter() - t0
        best, spent = min(best, dt), spent + dt
        if spent > budget:
            break
    return out, best


def run_case(case: Case, dtype: str, device: str = "cpu") -> CaseResult:
    """Run `case` at `dtype` on `device` and compare the three implementations."""
    import torch

    from torchbridge import dlpack

    result = CaseResult(case.name, dtype, device, "SKIP", tol=case.tolerance(dtype))
    if dtype not in case.dtypes:
        result.message = f"dtype {dtype} not in {case.dtypes}"
        return result
    if device not in case.devices or not _device_available(device):
        result.message = f"device {device} unavailable"
        return result
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    try:
        with enable_x64(dtype == "float64"):
            inputs64 = tuple(case.make_inputs(np.random.default_rng(case.seed)))
            expected = case.reference(*inputs64)
            cast = tuple(_cast(x, dtype) if case.cast else x for x in inputs64)
            jdev = jax.devices("gpu" if device == "cuda" else "cpu")[0]
            jax_in = tuple(jax.device_put(x, jdev) if isinstance(x, np.ndarray) else x
                           for x in cast)
            # Converted once, shared with torch through DLPack (zero-copy).
            torch_in = tuple(dlpack.to_torch(x) if isinstance(x, jax.Array) else x
                             for x in jax_in)
            jfn = jax.jit(case.jax_fn) if case.jit else case.jax_fn
            jax_out, result.time_jax = _timed(lambda: jfn(*jax_in), sync)
            with torch.no_grad():
                torch_out, result.time_torch = _timed(lambda: case.torch_fn(*torch_in), sync)
            result.err_jax_ref = case.compare(jax_out, expected, inputs64)
            result.err_torch_ref = case.compare(torch_out, expected, inputs64)
            result.err_jax_torch = case.compare(jax_out, torch_out, inputs64)
    except Exception as err:
        result.status = "ERROR"
        result.message = "".join(traceback.format_exception_only(type(err), err)).strip()
        return result
    finally:
        # Every case compiles its own programs; each compiled CPU executable pins
        # memory mappings, and hundreds of cases in one process would approach
        # the kernel's vm.max_map_count (XLA then crashes). Release them.
        jax.clear_caches()
    errs = (result.err_jax_ref, result.err_torch_ref, result.err_jax_torch)
    passed = all(e <= result.tol for e in errs)
    result.status = "PASS" if passed else "FAIL"
    if not passed:
        result.message = (f"errors {', '.join(f'{e:.2e}' for e in errs)} "
                          f"exceed tolerance {result.tol:.1e}")
    return result
