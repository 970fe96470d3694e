"""Solvers: triangular, Cholesky and LU solves, the stable `solve`, least squares,
inverse, determinants, condition numbers, rank, pseudo-inverse, eager checks.

Right-hand sides follow SciPy / `jax.scipy.linalg`: `b` is a (batch of)
vector when `b.ndim == A.ndim - 1`, otherwise a (batch of) matrix (..., n, k).
(`numpy.linalg.solve` >= 2.0 instead treats only 1-D `b` as a vector.)

Value problems never raise under `jit`: a singular triangular/LU system gives
inf/NaN like LAPACK-backed `jnp.linalg`, a non-PD matrix gives NaN from the
Cholesky paths. `checked(fn)` turns those into clear `ValueError`s in eager
code, and `solve(..., assume_a="auto")` avoids them altogether (see there).

References:
  Golub & Van Loan, Matrix Computations (4th ed.): 3.1 (triangular systems),
    3.2 (LU), 4.2 (Cholesky), 5.3-5.5 (least squares, rank deficiency).
  N. J. Higham, Accuracy and Stability of Numerical Algorithms (2nd ed.),
    chapter 15 (condition estimation; Hager's method, Algorithm 15.4).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import checkify

from jaxla import _blocked, _validate, factorizations
from jaxla._blocked import mm
from jaxla._triangular import trsm
from jaxla.svd import svd

_TRIANGULAR_BLOCK = 128


# ------------------------------------------------------------------ helpers
def _rhs(A: jax.Array, b, a_name: str = "A") -> tuple[jax.Array, bool]:
    """b as (..., n, k) and whether it was a (batch of) vector (SciPy rule)."""
    b = _validate.as_float_array(b, "b", allow_complex=False)
    vector = b.ndim == A.ndim - 1
    if b.ndim == 0 or (not vector and b.ndim < 2):
        raise ValueError(f"`b` must have shape (..., n) or (..., n, k); got {tuple(b.shape)}.")
    rows = b.shape[-1] if vector else b.shape[-2]
    if rows != A.shape[-2]:
        raise ValueError(
            f"`b` has shape {tuple(b.shape)}, incompatible with `{a_name}` of shape "
            f"{tuple(A.shape)} (need {A.shape[-2]} rows).")
    dtype = jnp.result_type(A.dtype, b.dtype)
    return (b[..., None] if vector else b).astype(dtype), vector


def _out(X: jax.Array, vector: bool) -> jax.Array:
    return X[..., 0] if vector else X


# --------------------------------------------------------------- triangular
@functools.partial(jax.jit, static_argnums=(2, 3, 4, 5))
def _solve_triangular(T, B, lower, trans, unit, nb):
    return jnp.vectorize(lambda t, b: trsm(t, b, lower, trans, unit, nb),
                         signature="(n,n),(n,k)->(n,k)")(T, B)


def solve_triangular(T: jax.Array, b: jax.Array, *, lower: bool = True, trans: bool = False,
                     unit_diagonal: bool = False, block_size: int | None = None) -> jax.Array:
    """Solve T x = b (or Tᵀ x = b) for triangular T.

    Blocked substitution: for each block row k, x_k = T_kk⁻¹ (b_k - T_k,<k x_<k)
    (one matmul, and the diagonal block's inverse from the recursive
    partitioned inverse). n <= block_size uses plain substitution. Cost n² k.

    Args:
      T: (..., n, n); only the `lower` (or upper) triangle is read.
      b: (..., n) or (..., n, k).
      lower, trans, unit_diagonal: static flags as in `jax.scipy.linalg.solve_triangular`
        (`trans` is a bool here: Tᵀ).
      block_size: static block size (default 128).

    Returns:
      x with the shape of b. A zero diagonal entry gives inf/NaN (no error).

    Reference: Golub & Van Loan, section 3.1.4.
    """
    T = _validate.real_square(T, "T")
    B, vector = _rhs(T, b, "T")
    nb = factorizations._block_size(block_size, _TRIANGULAR_BLOCK)
    X = _solve_triangular(T.astype(B.dtype), B, bool(lower), bool(trans),
                          bool(unit_diagonal), nb)
    return _out(X, vector)


def cho_solve(L: jax.Array, b: jax.Array) -> jax.Array:
    """Solve A x = b given the lower Cholesky factor L of A (L Lᵀ x = b).

    Two triangular solves, 2 n² k flops. Unlike `scipy.linalg.cho_solve` the
    factor is passed directly (always lower), not as a `(c, lower)` pair.
    """
    L = _validate.real_square(L, "L")
    B, vector = _rhs(L, b, "L")
    L = L.astype(B.dtype)
    nb = _TRIANGULAR_BLOCK
    Y = _solve_triangular(L, B, True, False, False, nb)
    return _out(_solve_triangular(L, Y, True, True, False, nb), vector)


def _lu_solve_perm_single(lu, perm, B, trans: bool = False):
    """Solve A x = B (or Aᵀ x = B) from A[perm] = L U (perm: `piv` as an index vector)."""
    nb = _TRIANGULAR_BLOCK
    if not trans:  # x = U⁻¹ L⁻¹ B[perm]
        Y = trsm(lu, jnp.take(B, perm, axis=0), True, False, True, nb)
        return trsm(lu, Y, False, False, False, nb)
    Y = trsm(lu, B, False, True, False, nb)  # Aᵀ = Uᵀ Lᵀ Pᵀ
    Y = trsm(lu, Y, True, True, True, nb)
    return jnp.zeros_like(Y).at[perm].set(Y)


def _lu_solve_single(lu, piv, B, trans: bool):
    return _lu_solve_perm_single(lu, _blocked.swaps_to_permutation(piv, lu.shape[-1]), B, trans)


@functools.partial(jax.jit, static_argnums=3)
def _lu_solve(lu, piv, B, trans):
    return jnp.vectorize(lambda a, p, b: _lu_solve_single(a, p, b, trans),
                         signature="(n,n),(n),(n,k)->(n,k)")(lu, piv, B)


def lu_solve(lu_and_piv: tuple[jax.Array, jax.Array], b: jax.Array) -> jax.Array:
    """Solve A x = b from `lu_factor(A)`: apply the interchanges, then L and U solves.

    Args:
      lu_and_piv: (lu, piv) from `lu_factor`.
      b: (..., n) or (..., n, k).

    Returns:
      x with the shape of b; a singular factor (zero on diag(U)) gives inf/NaN.
    """
    if not isinstance(lu_and_piv, (tuple, list)) or len(lu_and_piv) != 2:
        raise TypeError("`lu_and_piv` must be the (lu, piv) pair returned by `lu_factor`.")
    lu_, piv = lu_and_piv
    lu_ = _validate.real_square(lu_, "lu")
    piv = jnp.asarray(piv)
    if piv.shape != lu_.shape[:-1] or not jnp.issubdtype(piv.dtype, jnp.integer):
        raise ValueError(f"`piv` must be an integer array of shape {lu_.shape[:-1]}; "
                         f"got {piv.dtype}{tuple(piv.shape)}.")
    B, vector = _rhs(lu_, b, "lu")
    return _out(_lu_solve(lu_.astype(B.dtype), piv.astype(jnp.int32), B, False), vector)


# -------------------------------------------------------------------- solve
def _hager_norm1_inv(lu, perm, num_steps: int = 5) -> jax.Array:
    """Estimate ‖A⁻¹‖₁ from A's LU factors, A[perm] = L U (Hager 1984 / Higham Alg. 15.4)."""
    n = lu.shape[-1]
    x0 = jnp.full((n, 1), 1.0 / n, lu.dtype)

    def body(_, carry):
        x, est, done = carry
        y = _lu_solve_perm_single(lu, perm, x)
        z = _lu_solve_perm_single(lu, perm, jnp.where(y >= 0, 1.0, -1.0).astype(lu.dtype), True)
        new_est = jnp.sum(jnp.abs(y))
        j = jnp.argmax(jnp.abs(z[:, 0]))
        stop = done | (jnp.max(jnp.abs(z)) <= jnp.sum(z * x))
        x_next = jnp.zeros_like(x).at[j, 0].set(1.0)
        return (jnp.where(stop, x, x_next), jnp.where(done, est, jnp.maximum(est, new_est)),
                stop)

    _, est, _ = lax.fori_loop(0, num_steps, body, (x0, jnp.zeros((), lu.dtype), jnp.asarray(False)))
    return est


def _solve_auto_single(A, B):
    n = A.shape[-1]
    eps = jnp.finfo(A.dtype).eps
    L = factorizations._cholesky_single(A, factorizations._CHOLESKY_BLOCK)
    sym = jnp.max(jnp.abs(A - A.T)) <= 10 * n * eps * jnp.max(jnp.abs(A))
    pd = sym & jnp.all(jnp.isfinite(L))

    def chol_branch(_):
        Y = trsm(L, B, True, False, False, _TRIANGULAR_BLOCK)
        return trsm(L, Y, True, True, False, _TRIANGULAR_BLOCK)

    def general_branch(_):
        lu, _, perm = factorizations._lu_factor_perm_single(A, factorizations._LU_BLOCK)
        norm1 = jnp.max(jnp.sum(jnp.abs(A), axis=0))
        kappa = norm1 * _hager_norm1_inv(lu, perm)
        well = jnp.isfinite(kappa) & (kappa * n * eps < 1)
        return lax.cond(well, lambda _: _lu_solve_perm_single(lu, perm, B),
                        lambda _: _lstsq_svd_single(A, B, n * eps)[0], None)

    return lax.cond(pd, chol_branch, general_branch, None)


@functools.partial(jax.jit, static_argnums=2)
def _solve(A, B, assume_a):
    if assume_a == "pos":
        def fn(a, b):
            L = factorizations._cholesky_single(a, factorizations._CHOLESKY_BLOCK)
            Y = trsm(L, b, True, False, False, _TRIANGULAR_BLOCK)
            return trsm(L, Y, True, True, False, _TRIANGULAR_BLOCK)
    elif assume_a == "gen":
        def fn(a, b):
            lu, _, perm = factorizations._lu_factor_perm_single(a, factorizations._LU_BLOCK)
            return _lu_solve_perm_single(lu, perm, b)
    else:
        fn = _solve_auto_single
    return jnp.vectorize(fn, signature="(n,n),(n,k)->(n,k)")(A, B)


def solve(A: jax.Array, b: jax.Array, *, assume_a: str = "gen") -> jax.Array:
    """Solve A x = b for square A.

    assume_a (static):
      * "gen": LU with partial pivoting (`lu_factor` + `lu_solve`), (2/3) n³.
      * "pos": Cholesky (`cholesky` + `cho_solve`), n³/3; NaN when A is not PD.
      * "auto", the stable-solve decision: if A is symmetric and its Cholesky
        succeeds, use Cholesky (the fastest stable method for SPD A). Else
        factor PA = LU and estimate κ₁(A) = ‖A‖₁‖A⁻¹‖₁ with Hager's
        estimator (a few extra solves, O(n²)); if κ₁·n·eps < 1 the LU solution
        is accurate and is returned. Otherwise A is ill-conditioned or
        singular and the answer is the minimum-norm least-squares solution
        with singular values below n·eps·σ_max dropped (truncated SVD, a
        regularized solve): finite even for singular A. Branches are
        `lax.cond`s (jit-able; under `vmap` all branches are computed).

    Args:
      A: (..., n, n).
      b: (..., n) or (..., n, k).
      assume_a: "gen", "pos" or "auto".

    Returns:
      x with the shape of b. Differs from `jnp.linalg.solve` in the vector
      rule for b (see module docstring) and in offering "auto".
    """
    A = _validate.real_square(A, "A")
    _validate.check_choice(assume_a, "assume_a", ("gen", "pos", "auto"))
    B, vector = _rhs(A, b)
    if A.shape[-1] == 0:
        return _out(jnp.zeros(jnp.broadcast_shapes(A.shape[:-2], B.shape[:-2]) + B.shape[-2:],
                              B.dtype), vector)
    return _out(_solve(A.astype(B.dtype), B, assume_a), vector)


# ------------------------------------------------------------ least squares
class LstsqResult(NamedTuple):
    """Result of `lstsq`.

    Attributes:
      solution: (..., n) or (..., n, k) minimizer of ‖A x - b‖₂ (minimum norm
        when A is rank deficient).
      residuals: (...) or (..., k) squared residual norms ‖A x - b‖₂² per
        column (always returned, unlike NumPy's empty array).
      rank: (...) int32 effective rank (singular values > rcond·σ_max).
      singular_values: (..., min(m, n)) descending.
    """

    solution: jax.Array
    residuals: jax.Array
    rank: jax.Array
    singular_values: jax.Array


def _lstsq_svd_single(A, B, rcond):
    U, s, Vh = svd(A)
    keep = s > rcond * s[0] if s.shape[0] else s > 0
    sinv = jnp.where(keep, 1 / jnp.where(keep, s, 1), 0)
    X = mm(Vh.T, sinv[:, None] * mm(U.T, B))
    return X, s, jnp.sum(keep).astype(jnp.int32)


def _lstsq_single(A, B, rcond):
    m, n = A.shape
    X_svd, s, rank = _lstsq_svd_single(A, B, rcond)
    if m >= n:
        def qr_branch(_):
            Q, R = factorizations._householder_single(A, False)
            return trsm(R, mm(Q.T, B), False, False, False, _TRIANGULAR_BLOCK)
        X = lax.cond(rank == n, qr_branch, lambda _: X_svd, None)
    else:
        X = X_svd
    r = B - mm(A, X)
    return X, jnp.sum(r * r, axis=0), rank, s


@jax.jit
def _lstsq(A, B, rcond):
    return jnp.vectorize(_lstsq_single, signature="(m,n),(m,k),()->(n,k),(k),(),(s)")(
        A, B, rcond)


def lstsq(A: jax.Array, b: jax.Array, *, rcond=None) -> LstsqResult:
    """Least squares min ‖A x - b‖₂.

    The singular values (one-sided Jacobi `svd`) decide the rank. Full column
    rank (m >= n): x = R⁻¹ Qᵀ b from Householder QR (backward stable, the
    textbook method). Rank deficient or wide: the minimum-norm solution
    x = V Σ⁺ Uᵀ b. O(m n²).

    Args:
      A: (..., m, n).
      b: (..., m) or (..., m, k).
      rcond: relative cutoff for small singular values (may be traced);
        default max(m, n)·eps, as `numpy.linalg.lstsq`.

    Returns:
      LstsqResult(solution, residuals, rank, singular_values).

    Reference: Golub & Van Loan, sections 5.3.3 and 5.5.
    """
    A = _validate.as_float_array(A, "A", allow_complex=False)
    _validate.check_matrix(A, "A")
    B, vector = _rhs(A, b)
    m, n = A.shape[-2:]
    A = A.astype(B.dtype)
    if rcond is None:
        rcond = max(m, n) * jnp.finfo(A.dtype).eps
    if min(m, n) == 0:
        batch = jnp.broadcast_shapes(A.shape[:-2], B.shape[:-2])
        X = jnp.zeros(batch + (n, B.shape[-1]), B.dtype)
        res = jnp.sum(jnp.broadcast_to(B, batch + B.shape[-2:]) ** 2, axis=-2)
        return LstsqResult(_out(X, vector), res[..., 0] if vector else res,
                           jnp.zeros(batch, jnp.int32), jnp.zeros(batch + (0,), B.dtype))
    X, res, rank, s = _lstsq(A, B, jnp.asarray(rcond, A.dtype))
    return LstsqResult(_out(X, vector), res[..., 0] if vector else res, rank, s)


# ---------------------------------------------- inverse, determinants, rank
def inv(A: jax.Array) -> jax.Array:
    """A⁻¹ via LU: solve A X = I. Singular A gives inf/NaN entries. (2 n³ flops.)"""
    A = _validate.real_square(A, "A")
    eye = jnp.broadcast_to(jnp.eye(A.shape[-1], dtype=A.dtype), A.shape)
    return lu_solve(factorizations.lu_factor(A), eye)


class SlogdetResult(NamedTuple):
    """Result of `slogdet`: det(A) = sign · exp(logabsdet).

    Attributes:
      sign: (...) ±1, or 0 for singular A.
      logabsdet: (...) log|det A|, -inf for singular A.
    """

    sign: jax.Array
    logabsdet: jax.Array


def slogdet(A: jax.Array) -> SlogdetResult:
    """Sign and log|det A| from the LU factors: Σ log|u_ii|, sign from the pivots.

    Does not overflow where `det` does. Differentiable (d logabsdet = A⁻ᵀ).
    """
    A = _validate.real_square(A, "A")
    lu_, piv = factorizations.lu_factor(A)
    d = jnp.diagonal(lu_, axis1=-2, axis2=-1)
    swaps = jnp.sum(piv != jnp.arange(A.shape[-1]), axis=-1)
    sign = jnp.where(swaps % 2 == 0, 1.0, -1.0).astype(A.dtype) * jnp.prod(jnp.sign(d), -1)
    return SlogdetResult(sign, jnp.sum(jnp.log(jnp.abs(d)), axis=-1))


def det(A: jax.Array) -> jax.Array:
    """det(A) = (-1)^(#interchanges) Π u_ii from the LU factors (may overflow: see `slogdet`)."""
    A = _validate.real_square(A, "A")
    lu_, piv = factorizations.lu_factor(A)
    swaps = jnp.sum(piv != jnp.arange(A.shape[-1]), axis=-1)
    sign = jnp.where(swaps % 2 == 0, 1.0, -1.0).astype(A.dtype)
    return sign * jnp.prod(jnp.diagonal(lu_, axis1=-2, axis2=-1), axis=-1)


def _svdvals(A: jax.Array) -> jax.Array:
    return svd(A).S


def cond(A: jax.Array, p=2) -> jax.Array:
    """Condition number κ_p(A) = ‖A‖_p ‖A⁻¹‖_p.

    p = 2 (or None): σ_max/σ_min from `svd` (any m×n). p = 1, inf, "fro":
    norms of A and `inv(A)` (square A). Singular A gives inf (NumPy may give a
    huge finite number or raise).
    """
    A = _validate.as_float_array(A, "A", allow_complex=False)
    _validate.check_matrix(A, "A")
    if p is None:
        p = 2
    if p not in (2, 1, jnp.inf, "fro"):
        raise ValueError(f"`p` must be one of 2, 1, inf, 'fro'; got {p!r}.")
    if p == 2:
        s = _svdvals(A)
        return jnp.where(s[..., -1] > 0, s[..., 0] / jnp.where(s[..., -1] > 0, s[..., -1], 1),
                         jnp.inf)
    _validate.check_square(A, "A")

    def norm(X):  # plain sums: NaN/inf entries of a singular inverse must propagate
        if p == "fro":
            return jnp.sqrt(jnp.sum(X * X, axis=(-2, -1)))
        return jnp.max(jnp.sum(jnp.abs(X), axis=-2 if p == 1 else -1), axis=-1)

    k = norm(A) * norm(inv(A))
    return jnp.where(jnp.isfinite(k), k, jnp.inf)


def matrix_rank(A: jax.Array, *, tol=None) -> jax.Array:
    """Number of singular values above `tol` (default σ_max·max(m, n)·eps, as NumPy)."""
    A = _validate.as_float_array(A, "A", allow_complex=False)
    _validate.check_matrix(A, "A")
    if min(A.shape[-2:]) == 0:
        return jnp.zeros(A.shape[:-2], jnp.int32)
    s = _svdvals(A)
    if tol is None:
        tol = s[..., :1] * max(A.shape[-2:]) * jnp.finfo(A.dtype).eps
    else:
        tol = jnp.asarray(tol, A.dtype)[..., None]
    return jnp.sum(s > tol, axis=-1).astype(jnp.int32)


def pinv(A: jax.Array, *, rtol=None) -> jax.Array:
    """Moore-Penrose pseudo-inverse A⁺ = V Σ⁺ Uᵀ, dropping σ <= rtol·σ_max.

    Args:
      A: (..., m, n).
      rtol: relative cutoff (may be traced); default max(m, n)·eps
        (`jnp.linalg.pinv` uses 10x that).
    """
    A = _validate.as_float_array(A, "A", allow_complex=False)
    _validate.check_matrix(A, "A")
    m, n = A.shape[-2:]
    if min(m, n) == 0:
        return jnp.zeros(A.shape[:-2] + (n, m), A.dtype)
    if rtol is None:
        rtol = max(m, n) * jnp.finfo(A.dtype).eps
    U, s, Vh = svd(A)
    keep = s > jnp.asarray(rtol, A.dtype)[..., None] * s[..., :1]
    sinv = jnp.where(keep, 1 / jnp.where(keep, s, 1), 0)
    return mm(jnp.swapaxes(Vh, -1, -2) * sinv[..., None, :], jnp.swapaxes(U, -1, -2))


# ---------------------------------------------------------------- checking
def _zero_pivot(out) -> jax.Array:
    return jnp.any(jnp.diagonal(out[0], axis1=-2, axis2=-1) == 0)


def _not_finite(out) -> jax.Array:
    leaves = [x for x in jax.tree_util.tree_leaves(out)
              if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
    return jnp.logical_not(jnp.all(jnp.asarray([jnp.all(jnp.isfinite(x)) for x in leaves])))


_CHECKS: dict[Callable, tuple[Callable, str]] = {
    factorizations.cholesky: (_not_finite, "`A` is not (numerically) positive definite: "
                              "the Cholesky factorization hit a non-positive pivot."),
    cho_solve: (_not_finite, "the Cholesky solve produced NaN/inf: is `L` a valid factor?"),
    factorizations.lu_factor: (_zero_pivot, "`A` is singular: the LU factorization has "
                               "a zero pivot."),
    factorizations.lu: (lambda out: jnp.any(jnp.diagonal(out[2], axis1=-2, axis2=-1) == 0),
                        "`A` is singular: the LU factorization has a zero pivot."),
}


def checked(fn: Callable) -> Callable:
    """Eager-mode wrapper that raises `ValueError` instead of returning NaN/inf.

    `checked(jaxla.cholesky)(A)` raises "not positive definite",
    `checked(jaxla.lu_factor)(A)` "singular", and any function's inputs and
    outputs are checked for NaN/inf ("singular or ill-conditioned" for
    `solve`, `inv`, ...). Built on `jax.experimental.checkify`, so the checks
    run inside one compiled call and the error is raised on the host (a
    `checkify.JaxRuntimeError`, which subclasses `ValueError`).

    Args:
      fn: a `jaxla` function (any callable on arrays works: generic checks).

    Returns:
      A function with the same signature as `fn`.
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable; got {type(fn).__name__}.")
    predicate, message = _CHECKS.get(fn, (_not_finite, None))
    name = getattr(fn, "__name__", "fn")
    if message is None:
        message = (f"`{name}` produced NaN/inf: the input is singular, not positive "
                   "definite or too ill-conditioned for this method.")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        def body(*arrays):
            for i, x in enumerate(jax.tree_util.tree_leaves(arrays)):
                if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.inexact):
                    checkify.check(jnp.all(jnp.isfinite(x)),
                                   f"input {i} of `{name}` contains NaN or inf.")
            out = fn(*arrays, **kwargs)
            checkify.check(jnp.logical_not(predicate(out)), message)
            return out

        arrays = jax.tree_util.tree_map(
            lambda x: jnp.asarray(x) if hasattr(x, "shape") else x, args)
        err, out = checkify.checkify(body)(*arrays)
        err.throw()
        return out

    return wrapper
