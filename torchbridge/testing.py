"""Comparison toolkit shared by the test suite and the cross-check registry.

Every helper accepts NumPy arrays, JAX arrays and torch tensors alike; values
are compared in float64 (complex128 for complex inputs).

The tolerance table. For a format with unit roundoff eps, the default
tolerance is eps**(3/4). That keeps three quarters of the digits the format
carries and leaves room for an error growth of about eps**(-1/4), which is
~55x eps in float32, ~8000x eps in float64 and ~6x eps in float16. These are
the factors a backward-stable O(n^3) algorithm on a well-conditioned problem of
moderate size (n <= 1000) stays within. Ill-conditioned problems need a
`scale` (error ~ kappa * eps). Concretely:

    dtype       eps        default tolerance
    float16     9.8e-4     5.5e-3
    bfloat16    7.8e-3     2.6e-2
    float32     1.2e-7     6.5e-6
    float64     2.2e-16    1.8e-12

(complex64 / complex128 use their real counterparts' values). For comparison,
`torch.testing.assert_close` uses rtol 1.3e-6 for float32 and 1e-7 for
float64: tighter in float32 (suited to elementwise ops, too tight for
factorizations) and looser in float64.

LAPACK-style residuals (`scaled_residual`, `orthogonality_residual`) follow the
LAPACK test suite (xGET01, xQRT01): ||A - factors||_1 / (n * eps * ||A||_1) and
||QᵀQ - I||_1 / (n * eps), both expected below ~30 for a stable algorithm.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


class Tolerance(NamedTuple):
    """Relative and absolute tolerance for one dtype."""

    rtol: float
    atol: float


_EPS = {
    "float16": float(np.finfo(np.float16).eps),
    "bfloat16": 2.0 ** -7,
    "float32": float(np.finfo(np.float32).eps),
    "float64": float(np.finfo(np.float64).eps),
}
_REAL_OF = {"complex64": "float32", "complex128": "float64"}


def _dtype_name(dtype: Any) -> str:
    """Canonical name ('float32', 'bfloat16', ...) of a NumPy/JAX/torch dtype."""
    name = str(dtype).replace("torch.", "")
    if name in ("float", "double", "half"):
        name = {"float": "float32", "double": "float64", "half": "float16"}[name]
    if name in ("cfloat", "cdouble"):
        name = {"cfloat": "complex64", "cdouble": "complex128"}[name]
    try:
        if name not in _EPS and name not in _REAL_OF:
            name = np.dtype(dtype).name
    except TypeError:
        pass
    return _REAL_OF.get(name, name)


def eps(dtype: Any) -> float:
    """Machine epsilon of a floating dtype (NumPy, JAX or torch dtype or name)."""
    name = _dtype_name(dtype)
    if name not in _EPS:
        raise TypeError(f"`dtype` must be a floating or complex dtype; got {dtype!r}.")
    return _EPS[name]


def tolerance(dtype: Any, scale: float = 1.0) -> Tolerance:
    """Default tolerance for `dtype` (see the module docstring), times `scale`."""
    tol = scale * eps(dtype) ** 0.75
    return Tolerance(rtol=tol, atol=tol)


def to_numpy(x: Any) -> np.ndarray:
    """Any array (NumPy, JAX, torch, scalar) as float64/complex128 (bool too) or int NumPy."""
    if hasattr(x, "detach") and hasattr(x, "resolve_conj"):  # torch.Tensor
        t = x.detach().resolve_conj().resolve_neg().cpu()
        if str(t.dtype) in ("torch.bfloat16", "torch.float16"):
            t = t.float()
        a = t.numpy()
    else:
        a = np.asarray(x)
    if a.dtype.kind == "c":
        return a.astype(np.complex128)
    if a.dtype.kind in "fb" or a.dtype.name == "bfloat16":
        return a.astype(np.float64)
    return a


def _lower_precision(*arrays: Any) -> str:
    """The least precise floating dtype among the inputs (for default tolerances)."""
    best = "float64"
    for x in arrays:
        name = _dtype_name(getattr(x, "dtype", np.float64))
        if name in _EPS and _EPS[name] > _EPS[best]:
            best = name
    return best


def _check_shapes(actual: np.ndarray, expected: np.ndarray) -> None:
    if actual.shape != expected.shape:
        raise AssertionError(
            f"shape mismatch: actual {actual.shape} vs expected {expected.shape}"
        )


# ----------------------------------------------------------------- error measures
def relative_error(actual: Any, expected: Any) -> float:
    """Norm-wise relative error ||actual - expected||_F / max(||expected||_F, tiny)."""
    a, e = to_numpy(actual), to_numpy(expected)
    _check_shapes(a, e)
    if a.size == 0:
        return 0.0
    fin_a, fin_e = np.isfinite(a), np.isfinite(e)
    if not np.array_equal(fin_a, fin_e):
        return float("inf")
    if not np.all(fin_e):
        # Non-finite entries must agree exactly (NaN with NaN, +inf with +inf).
        if not np.array_equal(a[~fin_e], e[~fin_e], equal_nan=True):
            return float("inf")
        a, e = a[fin_e], e[fin_e]
    denom = max(np.linalg.norm(e), np.finfo(np.float64).tiny)
    return float(np.linalg.norm(a - e) / denom)


def _align_columns(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Multiply each column of `a` by the unit scalar (sign/phase) that best matches `e`."""
    inner = np.sum(np.conj(a) * e, axis=-2, keepdims=True)
    mag = np.abs(inner)
    phase = np.where(mag > 0, inner / np.where(mag > 0, mag, 1.0), 1.0)
    return a * phase


def eigvecs_error(actual: Any, expected: Any) -> float:
    """Largest column-wise relative error after aligning each column's sign/phase.

    Columns are eigenvectors (shape (..., n, k)); eigenvectors are defined only
    up to a unit scalar (±1 when real, e^{iθ} when complex).
    """
    a, e = to_numpy(actual), to_numpy(expected)
    _check_shapes(a, e)
    if a.size == 0:
        return 0.0
    if a.ndim < 2:
        raise ValueError(f"`actual` must have shape (..., n, k); got {a.shape}.")
    diff = np.linalg.norm(_align_columns(a, e) - e, axis=-2)
    scale = np.maximum(np.linalg.norm(e, axis=-2), np.finfo(np.float64).tiny)
    err = diff / scale
    return float(np.max(err)) if np.all(np.isfinite(err)) else float("inf")


def _orthonormal_basis(x: np.ndarray) -> np.ndarray:
    q, _ = np.linalg.qr(x)
    return q


def subspace_error(actual: Any, expected: Any) -> float:
    """sin of the largest principal angle between span(actual) and span(expected).

    Both are (..., n, k) bases (need not be orthonormal); 0 means identical
    subspaces, 1 means some direction of one is orthogonal to the other.
    Computed as ||(I - Q_e Q_eᴴ) Q_a||_2, accurate for small angles.
    """
    a, e = to_numpy(actual), to_numpy(expected)
    _check_shapes(a, e)
    if a.size == 0:
        return 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(e))):
        return float("inf")
    qa, qe = _orthonormal_basis(a), _orthonormal_basis(e)
    resid = qa - qe @ (np.conj(np.swapaxes(qe, -1, -2)) @ qa)
    s = np.linalg.norm(resid, ord=2, axis=(-2, -1))
    return float(np.max(s))


def scaled_residual(A: Any, reconstruction: Any, dtype: Any = None) -> float:
    """LAPACK's backward-error ratio ||A - reconstruction||_1 / (n * eps * ||A||_1).

    `reconstruction` is the product of the factors (e.g. `L @ L.T`, `P @ L @ U`,
    `Q @ R`). `n` is max(m, n) of the (last two) dimensions; `eps` belongs to
    `dtype` (default: the less precise of the two inputs). For batches the
    worst ratio is returned. A stable algorithm gives a ratio below ~30.
    """
    dt = dtype if dtype is not None else _lower_precision(A, reconstruction)
    a, r = to_numpy(A), to_numpy(reconstruction)
    _check_shapes(a, r)
    if a.ndim < 2:
        raise ValueError(f"`A` must have shape (..., m, n); got {a.shape}.")
    if a.size == 0:
        return 0.0
    n = max(a.shape[-2:])
    num = np.linalg.norm(a - r, ord=1, axis=(-2, -1))
    den = np.linalg.norm(a, ord=1, axis=(-2, -1))
    den = np.where(den > 0, den, 1.0)
    ratio = num / (n * eps(dt) * den)
    return float(np.max(ratio)) if np.all(np.isfinite(ratio)) else float("inf")


def orthogonality_residual(Q: Any, dtype: Any = None) -> float:
    """LAPACK's orthogonality ratio ||QᴴQ - I||_1 / (n * eps) for Q of shape (..., m, k)."""
    dt = dtype if dtype is not None else _lower_precision(Q)
    q = to_numpy(Q)
    if q.ndim < 2:
        raise ValueError(f"`Q` must have shape (..., m, k); got {q.shape}.")
    k = q.shape[-1]
    if q.size == 0:
        return 0.0
    gram = np.conj(np.swapaxes(q, -1, -2)) @ q
    num = np.linalg.norm(gram - np.eye(k), ord=1, axis=(-2, -1))
    ratio = num / (max(q.shape[-2:]) * eps(dt))
    return float(np.max(ratio)) if np.all(np.isfinite(ratio)) else float("inf")


# ------------------------------------------------------------------ assertions
def _resolve_tol(rtol: float | None, atol: float | None, *arrays: Any) -> Tolerance:
    default = tolerance(_lower_precision(*arrays))
    return Tolerance(
        rtol=default.rtol if rtol is None else rtol,
        atol=default.atol if atol is None else atol,
    )


def assert_close(actual: Any, expected: Any, *, rtol: float | None = None,
                 atol: float | None = None, err_msg: str = "") -> None:
    """Elementwise |actual - expected| <= atol + rtol * |expected| (NaNs must match).

    Defaults come from `tolerance()` of the less precise input's dtype.
    """
    tol = _resolve_tol(rtol, atol, actual, expected)
    a, e = to_numpy(actual), to_numpy(expected)
    _check_shapes(a, e)
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    if not np.array_equal(nan_a, nan_e):
        raise AssertionError(f"NaN positions differ. {err_msg}")
    ok = ~nan_e
    with np.errstate(invalid="ignore"):
        diff = np.abs(a - e)
        allowed = tol.atol + tol.rtol * np.abs(e)
        bad = ok & ~(diff <= allowed) & ~((a == e) & ok)
    if np.any(bad):
        idx = np.unravel_index(np.argmax(np.where(bad, diff, -1.0)), a.shape)
        raise AssertionError(
            f"not close: {int(bad.sum())} of {a.size} elements exceed "
            f"atol={tol.atol:.2e} + rtol={tol.rtol:.2e}*|expected|; worst at "
            f"{tuple(int(i) for i in idx)}: actual {a[idx]!r}, expected {e[idx]!r}, "
            f"diff {diff[idx]:.3e}. {err_msg}"
        )


def assert_eigvecs_close(actual: Any, expected: Any, *, atol: float | None = None,
                         err_msg: str = "") -> None:
    """Columns of `actual` match those of `expected` up to sign (real) or phase (complex).

    Fails when some column's relative error after alignment exceeds `atol`.
    """
    tol = _resolve_tol(None, atol, actual, expected).atol
    err = eigvecs_error(actual, expected)
    if not err <= tol:
        raise AssertionError(
            f"eigenvectors differ: worst column error {err:.3e} > {tol:.2e} "
            f"(after sign/phase alignment). {err_msg}"
        )


def assert_subspaces_close(actual: Any, expected: Any, *, atol: float | None = None,
                           err_msg: str = "") -> None:
    """span(actual) == span(expected): sin(largest principal angle) <= `atol`."""
    tol = _resolve_tol(None, atol, actual, expected).atol
    err = subspace_error(actual, expected)
    if not err <= tol:
        raise AssertionError(
            f"subspaces differ: sin(largest principal angle) = {err:.3e} > "
            f"{tol:.2e}. {err_msg}"
        )


def assert_scaled_residual(A: Any, reconstruction: Any, *, bound: float = 30.0,
                           dtype: Any = None, err_msg: str = "") -> None:
    """`scaled_residual(A, reconstruction)` is below `bound` (LAPACK uses ~30)."""
    r = scaled_residual(A, reconstruction, dtype)
    if not r < bound:
        raise AssertionError(
            f"scaled residual ||A - factors||/(n eps ||A||) = {r:.3g} >= {bound}. {err_msg}"
        )
