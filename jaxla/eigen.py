"""Vector-iteration eigen-solvers: power, inverse and Rayleigh-quotient iteration,
deflation, and the generalized symmetric-definite problem.

Every iteration is a `lax.while_loop` bounded by `max_iters` that stops when
the residual ‖Av − λv‖₂ (with ‖v‖₂ = 1) drops below `tol` times a scale of A;
results report `num_iters`, `residual` and `converged` instead of raising. A
non-finite residual (NaN/inf input) stops the loop at once with
`converged=False`. A zero start vector raises `ValueError` in eager mode;
under `jit` it gives NaN and `converged=False`.

Gradients: `while_loop` is not reverse-differentiable, so for a dense `A`
the eigenpair carries an implicit-differentiation rule (a `custom_jvp`):
dλ = vᵀ dA v and dv = −(A − λI + c vvᵀ)⁻¹ (I − vvᵀ) dA v. This is exact for a
simple eigenvalue of a *symmetric* A (so `jax.grad` of λ w.r.t. A is v vᵀ);
for non-symmetric A it is not the derivative (it would need the left
eigenvector). Matrix-free operators get no gradient through these loops.

Differences from NumPy/SciPy/PyTorch: neither has tolerance-driven vector
iterations; `generalized_eigh` matches `scipy.linalg.eigh(A, B)` (B-orthonormal
eigenvectors, ascending eigenvalues).

References: Golub & Van Loan, Matrix Computations (4th ed.), §7.3 (power and
inverse iteration), §8.2.3 (Rayleigh-quotient iteration), §8.7 (A x = λ B x);
Parlett, The Symmetric Eigenvalue Problem, ch. 4.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxla import _validate

_HIGHEST = lax.Precision.HIGHEST


# ----------------------------------------------------------------- helpers
def _eps(dtype: Any) -> float:
    return float(jnp.finfo(dtype).eps)


def _matvec_of(A: jax.Array) -> Callable[[jax.Array], jax.Array]:
    return lambda v: jnp.matmul(A, v, precision=_HIGHEST)


def _norm(x: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.sum(jnp.abs(x) ** 2, axis=0))


def _scale_of(A: jax.Array) -> jax.Array:
    """RMS singular value ‖A‖_F / √n ≤ ‖A‖₂: the scale residuals are measured against."""
    return _norm(A.reshape(-1)) / np.sqrt(A.shape[-1])


def _check_start(v0: Any, name: str) -> None:
    """Eager-mode check that no start vector (last axis) is identically zero."""
    if isinstance(v0, jax.core.Tracer):
        return
    arr = np.asarray(v0)
    if arr.size and np.any(np.all(arr == 0, axis=-1)):
        raise ValueError(
            f"`{name}` must be a nonzero start vector; got an all-zero vector. "
            "Use e.g. a random vector (jax.random.normal)."
        )


def _prepare(A: Any, v0: Any, v_name: str = "v0", v_ndim: int = 1):
    """Validate (A, v0); return (A_or_matvec, v0, is_dense) in a common dtype."""
    v0 = _validate.as_float_array(v0, v_name, allow_complex=False)
    if _validate.is_operator(A):
        _validate.check_ndim(v0, v_name, ndim=v_ndim)
        _check_start(v0 if v_ndim == 1 else jnp.swapaxes(v0, -1, -2), v_name)
        return A, v0, False
    A = _validate.real_square(A, "A")
    _validate.check_ndim(v0, v_name, min_ndim=v_ndim)
    axis = -1 if v_ndim == 1 else -2
    if v0.shape[axis] != A.shape[-1]:
        raise ValueError(
            f"`{v_name}` has shape {tuple(v0.shape)}, incompatible with `A` of shape "
            f"{tuple(A.shape)} (need {v_name}.shape[{axis}] == {A.shape[-1]})."
        )
    _check_start(v0 if v_ndim == 1 else jnp.swapaxes(v0, -1, -2), v_name)
    dtype = jnp.result_type(A, v0)
    return A.astype(dtype), v0.astype(dtype), True


def _float0_like(x: jax.Array) -> np.ndarray:
    return np.zeros(np.shape(x), dtype=jax.dtypes.float0)


# ------------------------------------------------------------------ results
class EigenpairResult(NamedTuple):
    """One eigenpair from a vector iteration.

    Attributes:
      value: the eigenvalue estimate λ = vᵀAv (Rayleigh quotient), shape (...).
      vector: unit eigenvector estimate v, shape (..., n).
      num_iters: iterations taken (int32).
      residual: ‖Av − λv‖₂ at the returned pair.
      converged: bool, residual <= tol * scale (see each function for the scale).
    """

    value: jax.Array
    vector: jax.Array
    num_iters: jax.Array
    residual: jax.Array
    converged: jax.Array


class EighResult(NamedTuple):
    """Eigen-decomposition of a symmetric (or symmetric-definite) problem.

    Attributes:
      eigenvalues: (..., k) in ascending order, like `jnp.linalg.eigh`.
      eigenvectors: (..., n, k), column i belongs to eigenvalues[..., i].
    """

    eigenvalues: jax.Array
    eigenvectors: jax.Array


# ------------------------------------------------------------ generic loop
def _iterate(matvec, v0, scale, tol, max_iters, update):
    """Shared while-loop of the vector iterations.

    `update(v, lam) -> unnormalized next iterate`. The loop keeps (v, Av, λ, r)
    and stops on convergence, on a non-finite residual, or at `max_iters`.
    """
    def pair(v):
        w = matvec(v)
        lam = jnp.vdot(v, w)
        return w, lam, _norm(w - lam * v)

    def done(lam, r):
        return r <= tol * jnp.maximum(jnp.abs(lam), scale)

    v = v0 / _norm(v0)
    w, lam, r = pair(v)

    def cond(state):
        it, _, _, lam, r = state
        return (it < max_iters) & jnp.isfinite(r) & ~done(lam, r)

    def body(state):
        it, v, w, lam, _ = state
        x = update(v, w, lam)
        v = x / _norm(x)
        w, lam, r = pair(v)
        return it + 1, v, w, lam, r

    it, v, _, lam, r = lax.while_loop(cond, body, (jnp.int32(0), v, w, lam, r))
    return EigenpairResult(lam, v, it, r, done(lam, r) & jnp.isfinite(r))


def _lu_perturbed(M: jax.Array, delta: jax.Array):
    """LU of M with pivots smaller than `delta` replaced by ±delta (LAPACK xHSEIN trick).

    Lets inverse iteration run when the shift is (numerically) an eigenvalue.
    """
    lu, _, perm = lax.linalg.lu(M)
    diag = jnp.diagonal(lu)
    safe = jnp.where(jnp.abs(diag) < delta, jnp.where(diag < 0, -delta, delta), diag)
    lu = lu.at[jnp.arange(M.shape[0]), jnp.arange(M.shape[0])].set(safe)
    return lu, perm


def _lu_apply(lu: jax.Array, perm: jax.Array, b: jax.Array) -> jax.Array:
    y = jax.scipy.linalg.solve_triangular(lu, b[perm], lower=True, unit_diagonal=True)
    return jax.scipy.linalg.solve_triangular(lu, y, lower=False)


# ---------------------------------------------- implicit-differentiation rule
@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def _implicit(solver, max_iters, A, v0, tol, shift):
    return solver(A, v0, tol, shift, max_iters)


@_implicit.defjvp
def _implicit_jvp(solver, max_iters, primals, tangents):
    A, v0, tol, shift = primals
    dA = tangents[0]
    res = _implicit(solver, max_iters, A, v0, tol, shift)
    dlam, dv = _eigpair_tangent(A, dA, res.value, res.vector)
    tangent = EigenpairResult(dlam, dv, _float0_like(res.num_iters),
                              jnp.zeros_like(res.residual), _float0_like(res.converged))
    return res, tangent


def _eigpair_tangent(A, dA, lam, v):
    """dλ = vᵀ dA v; dv = −(A − λI + c vvᵀ)⁻¹ (dA v − dλ v), which is ⊥ v (symmetric A)."""
    dAv = jnp.matmul(dA, v, precision=_HIGHEST)
    dlam = jnp.vdot(v, dAv)
    c = jnp.where(_scale_of(A) > 0, _scale_of(A), 1.0)
    M = A - lam * jnp.eye(A.shape[-1], dtype=A.dtype) + c * jnp.outer(v, v)
    dv = -jnp.linalg.solve(M, dAv - dlam * v)
    return dlam, dv


@functools.partial(jax.jit, static_argnums=(0, 5))
def _run_dense(solver, A, v0, tol, shift, max_iters):
    """Vectorize `solver` over leading batch dims of (A, v0) with the implicit rule.

    Jitted so that eager calls reuse the compiled loop (the cache key is the
    solver, `max_iters`, shapes and dtypes).
    """
    def core(a, v, t, s):
        return tuple(_implicit(solver, max_iters, a, v, t, s))

    out = jnp.vectorize(core, signature="(n,n),(n),(),()->(),(n),(),(),()")(
        A, v0, jnp.asarray(tol, A.dtype), jnp.asarray(shift, A.dtype))
    return EigenpairResult(*out)


# ------------------------------------------------------------ power iteration
def _power_dense(A, v0, tol, shift, max_iters):
    del shift
    return _iterate(_matvec_of(A), v0, 0.0, tol, max_iters, lambda v, w, lam: w)


def power_iteration(A: Any, v0: jax.Array, *, max_iters: int = 1000,
                    tol: float = 1e-6) -> EigenpairResult:
    """Dominant eigenpair (largest |λ|) by power iteration.

    v ← Av / ‖Av‖, λ = vᵀAv; converges at rate |λ₂/λ₁| when |λ₁| > |λ₂|.
    Stops when ‖Av − λv‖₂ <= tol·|λ|. Cost: one product with A per iteration.
    If Av = 0 the pair (0, v) is exact and the loop stops. When |λ₁| = |λ₂|
    with λ₁ ≠ λ₂ (e.g. ±λ) it does not converge (converged=False).

    Args:
      A: dense (..., n, n) array, or a linear callable `matvec` (also a
        `jax.tree_util.Partial`) on vectors of shape (n,).
      v0: nonzero start vector (..., n) ((n,) for a callable).
      max_iters: static bound on iterations.
      tol: relative residual tolerance (may be traced).

    Returns:
      `EigenpairResult`. For dense `A`, `jax.grad` of `value` w.r.t. a
      symmetric `A` is v vᵀ (implicit differentiation, see module docstring).

    Reference: Golub & Van Loan (4th ed.) §7.3.1.
    """
    max_iters = _validate.check_positive_int(max_iters, "max_iters")
    A, v0, dense = _prepare(A, v0)
    if dense:
        return _run_dense(_power_dense, A, v0, tol, 0.0, max_iters)
    return _iterate(A, v0, 0.0, jnp.asarray(tol, v0.dtype), max_iters, lambda v, w, lam: w)


# ---------------------------------------------------------- inverse iteration
def _inverse_dense(A, v0, tol, shift, max_iters):
    n = A.shape[-1]
    scale = _scale_of(A)
    delta = _eps(A.dtype) * jnp.maximum(scale + jnp.abs(shift), jnp.finfo(A.dtype).tiny)
    lu, perm = _lu_perturbed(A - shift * jnp.eye(n, dtype=A.dtype), delta)
    return _iterate(_matvec_of(A), v0, scale, tol, max_iters,
                    lambda v, w, lam: _lu_apply(lu, perm, v))


def inverse_iteration(A: jax.Array, v0: jax.Array, *, shift: float = 0.0,
                      max_iters: int = 100, tol: float = 1e-6) -> EigenpairResult:
    """Eigenpair whose eigenvalue is closest to `shift`, by inverse iteration.

    v ← (A − σI)⁻¹ v / ‖·‖, λ = vᵀAv. A − σI is LU-factorized once (partial
    pivoting; O(n³)), then each iteration costs two triangular solves (O(n²)).
    A pivot below eps·(‖A‖_F/√n + |σ|) is replaced by that value (as LAPACK's
    xHSEIN does), so σ equal to an eigenvalue converges in one step instead of
    producing inf. Convergence: ‖Av − λv‖₂ <= tol·max(|λ|, ‖A‖_F/√n); rate
    |λ₁ − σ| / |λ₂ − σ|.

    Args:
      A: dense (..., n, n) array (a factorization is needed, so no callables).
      v0: nonzero start vector (..., n).
      shift: σ (may be traced).
      max_iters: static bound on iterations.
      tol: relative residual tolerance (may be traced).

    Returns:
      `EigenpairResult`, with the implicit gradient rule for symmetric A.

    Reference: Golub & Van Loan (4th ed.) §7.6.1; Wilkinson, The Algebraic
    Eigenvalue Problem, ch. 9.
    """
    max_iters = _validate.check_positive_int(max_iters, "max_iters")
    if _validate.is_operator(A):
        raise TypeError("`A` must be a dense array for inverse_iteration (it is factorized).")
    A, v0, _ = _prepare(A, v0)
    return _run_dense(_inverse_dense, A, v0, tol, shift, max_iters)


# ------------------------------------------------ Rayleigh-quotient iteration
def _rqi_dense(A, v0, tol, shift, max_iters):
    del shift
    n = A.shape[-1]
    scale = _scale_of(A)
    eye = jnp.eye(n, dtype=A.dtype)

    def update(v, w, lam):
        delta = _eps(A.dtype) * jnp.maximum(scale + jnp.abs(lam), jnp.finfo(A.dtype).tiny)
        lu, perm = _lu_perturbed(A - lam * eye, delta)
        return _lu_apply(lu, perm, v)

    return _iterate(_matvec_of(A), v0, scale, tol, max_iters, update)


def rayleigh_quotient_iteration(A: jax.Array, v0: jax.Array, *, max_iters: int = 50,
                                tol: float = 1e-6) -> EigenpairResult:
    """Eigenpair of a symmetric A by Rayleigh-quotient iteration.

    ρ = vᵀAv, v ← (A − ρI)⁻¹ v / ‖·‖: inverse iteration with the shift updated
    every step, cubically convergent for symmetric A. Converges to *an*
    eigenpair, usually the one whose eigenvector is closest to v0. Each
    iteration refactorizes A − ρI (O(n³)). Near-zero pivots are perturbed as
    in `inverse_iteration`. Convergence: ‖Av − λv‖₂ <= tol·max(|λ|, ‖A‖_F/√n).

    Args:
      A: dense symmetric (..., n, n) array.
      v0: nonzero start vector (..., n).
      max_iters: static bound on iterations.
      tol: relative residual tolerance (may be traced).

    Returns:
      `EigenpairResult`, with the implicit gradient rule.

    Reference: Parlett, The Symmetric Eigenvalue Problem, §4.6; Golub & Van
    Loan (4th ed.) §8.2.3.
    """
    max_iters = _validate.check_positive_int(max_iters, "max_iters")
    if _validate.is_operator(A):
        raise TypeError("`A` must be a dense array for rayleigh_quotient_iteration.")
    A, v0, _ = _prepare(A, v0)
    return _run_dense(_rqi_dense, A, v0, tol, 0.0, max_iters)


# ---------------------------------------------------- deflated power iteration
def _deflated(matvec, V0, tol, max_iters):
    n, k = V0.shape
    dtype = V0.dtype
    fallback = jax.random.normal(jax.random.key(0), (n, k), dtype)

    def step(j, carry):
        V, lams = carry

        def project(x):
            return x - jnp.matmul(V, jnp.matmul(V.T, x, precision=_HIGHEST), precision=_HIGHEST)

        def op(x):
            return project(matvec(project(x)))

        start = lax.dynamic_index_in_dim(V0, j, axis=1, keepdims=False)
        alt = lax.dynamic_index_in_dim(fallback, j, axis=1, keepdims=False)
        x = project(start)
        x = jnp.where(_norm(x) > _eps(dtype) * _norm(start), x, project(project(alt)))
        res = _iterate(op, x, 0.0, tol, max_iters, lambda v, w, lam: w)
        V = lax.dynamic_update_index_in_dim(V, res.vector, j, axis=1)
        return V, lams.at[j].set(res.value)

    V, lams = lax.fori_loop(0, k, step, (jnp.zeros_like(V0), jnp.zeros((k,), dtype)))
    order = jnp.argsort(lams)
    return lams[order], V[:, order]


def deflated_power_iteration(A: Any, V0: jax.Array, *, max_iters: int = 1000,
                             tol: float = 1e-6) -> EighResult:
    """Top-k eigenpairs by |λ| of a symmetric A, by power iteration with deflation.

    Pair j runs power iteration on the projected operator P A P, P = I − VVᵀ
    over the j pairs already found (projection deflation; in exact arithmetic
    the same as Hotelling's A − Σ λᵢ vᵢvᵢᵀ, but it keeps the iterates
    orthogonal to the found vectors). Errors accumulate from pair to pair; each
    pair stops at ‖Av − λv‖ <= tol·|λ| or after `max_iters`. Cost:
    O(k · iterations · (matvec + nk)).

    Args:
      A: dense symmetric (..., n, n) array or a linear callable.
      V0: start vectors (..., n, k), one nonzero column per pair.
      max_iters: static bound on iterations per pair.
      tol: relative residual tolerance (may be traced).

    Returns:
      `EighResult` with the k eigenvalues (largest |λ|) sorted ascending and
      their eigenvectors as columns. The contract's `EighResult` carries no
      convergence flags: check residuals when convergence matters (pairs with
      |λⱼ| ≈ |λⱼ₊₁| converge slowly).

    Reference: Saad, Numerical Methods for Large Eigenvalue Problems (2nd ed.),
    §4.2 (deflation).
    """
    max_iters = _validate.check_positive_int(max_iters, "max_iters")
    A, V0, dense = _prepare(A, V0, "V0", v_ndim=2)
    if not dense:
        lams, V = _deflated(A, V0, jnp.asarray(tol, V0.dtype), max_iters)
        return EighResult(lams, V)

    lams, V = _deflated_dense(A, V0, jnp.asarray(tol, A.dtype), max_iters)
    return EighResult(lams, V)


@functools.partial(jax.jit, static_argnums=3)
def _deflated_dense(A, V0, tol, max_iters):
    def core(a, v, t):
        return _deflated(_matvec_of(a), v, t, max_iters)

    return jnp.vectorize(core, signature="(n,n),(n,k),()->(k),(n,k)")(A, V0, tol)


# --------------------------------------------------------- generalized eigh
def generalized_eigh(A: jax.Array, B: jax.Array) -> EighResult:
    """Symmetric-definite generalized eigenproblem A x = λ B x (B SPD).

    With B = L Lᵀ (Cholesky), C = L⁻¹ A L⁻ᵀ is symmetric with the same
    eigenvalues; x = L⁻ᵀ y for C y = λ y. Only triangular solves: B⁻¹ is never
    formed. Eigenvectors are B-orthonormal (XᵀBX = I), eigenvalues ascending,
    as in `scipy.linalg.eigh(A, B)`. Cost: O(n³). If B is not positive
    definite the Cholesky factor is NaN and so is the result (no exception
    under `jit`). A and B are symmetrized ((M + Mᵀ)/2). Differentiable
    (through `cholesky`, `triangular_solve` and `eigh`).

    Args:
      A: symmetric (..., n, n).
      B: symmetric positive definite (..., n, n).

    Returns:
      `EighResult(eigenvalues (..., n), eigenvectors (..., n, n))`.

    Reference: Golub & Van Loan (4th ed.) §8.7.2.
    """
    A = _validate.as_float_array(A, "A", allow_complex=False)
    B = _validate.as_float_array(B, "B", allow_complex=False)
    _validate.check_square(A, "A")
    _validate.check_square(B, "B")
    if A.shape[-1] != B.shape[-1]:
        raise ValueError(
            f"`B` has shape {tuple(B.shape)}, incompatible with `A` of shape {tuple(A.shape)}."
        )
    dtype = jnp.result_type(A, B)
    A, B = A.astype(dtype), B.astype(dtype)
    batch = jnp.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    A = jnp.broadcast_to(A, batch + A.shape[-2:])
    B = jnp.broadcast_to(B, batch + B.shape[-2:])
    A = 0.5 * (A + jnp.swapaxes(A, -1, -2))
    L = lax.linalg.cholesky(B, symmetrize_input=True)
    # C = L⁻¹ A L⁻ᵀ: solve L X = A, then C = L⁻¹ Xᵀ (A symmetric).
    X = lax.linalg.triangular_solve(L, A, left_side=True, lower=True)
    C = lax.linalg.triangular_solve(L, jnp.swapaxes(X, -1, -2), left_side=True, lower=True)
    C = 0.5 * (C + jnp.swapaxes(C, -1, -2))
    w, Y = jnp.linalg.eigh(C, symmetrize_input=False)
    Xv = lax.linalg.triangular_solve(L, Y, left_side=True, lower=True, transpose_a=True)
    return EighResult(w, Xv)
