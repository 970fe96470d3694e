"""Matrix functions: the matrix exponential and f(A) for symmetric A.

`expm` is Higham's scaling-and-squaring algorithm: pick the cheapest
diagonal Padé approximant r_m(A) (m = 3, 5, 7, 9, 13) whose backward error is
below the unit roundoff for ‖A‖₁ ≤ θ_m, otherwise scale A by 2⁻ˢ so that
‖A/2ˢ‖₁ ≤ θ₁₃, evaluate r₁₃ and square s times: exp(A) = exp(A/2ˢ)^(2ˢ).
`funm_eigh` applies a scalar function to the eigenvalues of a symmetric
matrix: f(A) = Q f(Λ) Qᵀ.

References:
  N. J. Higham, The scaling and squaring method for the matrix exponential
  revisited, SIAM J. Matrix Anal. Appl. 26(4) (2005), Algorithm 2.3, Table 2.3.
  N. J. Higham, Functions of Matrices (SIAM 2008), sections 10.3 and 4.5.
  C. Moler & C. Van Loan, Nineteen dubious ways to compute the exponential of
  a matrix, twenty-five years later, SIAM Review 45 (2003).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax

from jaxla import _validate

_HIGHEST = lax.Precision.HIGHEST

# θ_m of Higham (2005), Table 2.3: the largest ‖A‖₁ for which the backward
# error of the [m/m] Padé approximant is below the unit roundoff.
_THETA_DOUBLE = {3: 1.495585217958292e-2, 5: 2.539398330063230e-1,
                 7: 9.504178996162932e-1, 9: 2.097847961257068e0,
                 13: 5.371920351148152e0}
# The same table for IEEE single precision (Higham 2005, section 3): degree 7
# already reaches u = 2⁻²⁴ at θ₇ = 3.93, so higher degrees would waste products.
_THETA_SINGLE = {3: 4.258730016922831e-1, 5: 1.880152677804762e0,
                 7: 3.925724783138660e0}


def _pade_coefficients(m: int) -> tuple[float, ...]:
    """b_j of the [m/m] Padé numerator p_m(x) = Σ b_j x^j (q_m(x) = p_m(−x)).

    b_j = (2m − j)! m! / ((2m)! j! (m − j)!), normalized so that b_m = 1.
    """
    exact = [math.factorial(2 * m - j) * math.factorial(m)
             / (math.factorial(2 * m) * math.factorial(j) * math.factorial(m - j))
             for j in range(m + 1)]
    return tuple(c / exact[m] for c in exact)


def _mm(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.matmul(a, b, precision=_HIGHEST)


def _pade_uv(A: jax.Array, m: int) -> tuple[jax.Array, jax.Array]:
    """Odd and even parts U, V of p_m(A) = V + U (so q_m(A) = V − U).

    m ≤ 9: U = A Σ b_{2i+1} A²ⁱ, V = Σ b_{2i} A²ⁱ with the even powers formed
    once. m = 13 uses Higham's 6-product scheme (A², A⁴, A⁶ plus two more).
    """
    b = _pade_coefficients(m)
    eye = jnp.eye(A.shape[-1], dtype=A.dtype)
    A2 = _mm(A, A)
    if m == 13:
        A4 = _mm(A2, A2)
        A6 = _mm(A4, A2)
        u_inner = _mm(A6, b[13] * A6 + b[11] * A4 + b[9] * A2)
        u_inner = u_inner + b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * eye
        v_inner = _mm(A6, b[12] * A6 + b[10] * A4 + b[8] * A2)
        V = v_inner + b[6] * A6 + b[4] * A4 + b[2] * A2 + b[0] * eye
        return _mm(A, u_inner), V
    powers = [eye, A2]
    while len(powers) <= m // 2:
        powers.append(_mm(powers[-1], A2))
    u_sum = sum(b[2 * i + 1] * powers[i] for i in range(m // 2 + 1))
    V = sum(b[2 * i] * powers[i] for i in range(m // 2 + 1))
    return _mm(A, u_sum), V


def _expm_batch(A: jax.Array, max_squarings: int) -> jax.Array:
    """Algorithm 2.3 of Higham (2005) on a stack of matrices (b, n, n).

    One degree is chosen for the whole stack (the largest any member needs;
    a higher degree is only more accurate), and each member gets its own s.
    The branch and loop predicates are scalars, so without an outer `vmap`
    only the needed branch and squarings run.
    """
    table = _THETA_DOUBLE if A.dtype == jnp.float64 else _THETA_SINGLE
    degrees = sorted(table)
    top = degrees[-1]
    norm = jnp.max(jnp.sum(jnp.abs(A), axis=-2), axis=-1, initial=0.0)  # (b,)
    finite = jnp.isfinite(norm)
    norm = jnp.where(finite, norm, 0.0)
    # s = ⌈log2(‖A‖₁ / θ_top)⌉ squarings, only when the top degree needs them.
    ratio = jnp.where(norm > table[top], norm / table[top], 1.0)
    s = jnp.ceil(jnp.log2(ratio)).astype(jnp.int32)
    thresholds = jnp.asarray([table[d] for d in degrees[:-1]], A.dtype)
    branch = jnp.max(jnp.sum(norm[:, None] > thresholds, axis=-1)).astype(jnp.int32)
    scaled = A * jnp.exp2(-s.astype(A.dtype))[:, None, None]

    def branch_fn(m):
        def evaluate(X):
            U, V = _pade_uv(X, m)
            # r_m = q_m⁻¹ p_m: one LU solve (q_m is well conditioned for ‖X‖ ≤ θ_m).
            return jnp.linalg.solve(V - U, V + U)
        return evaluate

    R = lax.switch(branch, [branch_fn(d) for d in degrees], scaled)
    s_max = jnp.max(s)

    def square(i, X):
        def step(Y):
            return jnp.where((i < s)[:, None, None], _mm(Y, Y), Y)
        return lax.cond(i < s_max, step, lambda Y: Y, X)

    R = lax.fori_loop(0, max_squarings, square, R)
    # Too many squarings needed: the answer would be wrong, flag it as NaN
    # (like jax.scipy.linalg.expm); NaN/inf input propagates as NaN.
    bad = (s > max_squarings) | ~finite
    return jnp.where(bad[:, None, None], jnp.nan, R)


def expm(A: jax.Array, *, max_squarings: int = 32) -> jax.Array:
    """Matrix exponential exp(A) = Σ Aᵏ/k! by Padé scaling and squaring.

    Higham (2005), Algorithm 2.3: with θ_m from his Table 2.3, use the [m/m]
    Padé approximant r_m(A) = q_m(A)⁻¹ p_m(A) for the smallest m ∈ {3, 5, 7,
    9, 13} with ‖A‖₁ ≤ θ_m; otherwise r₁₃(A/2ˢ)^(2ˢ) with
    s = ⌈log₂(‖A‖₁/θ₁₃)⌉. In float32 the single-precision table of the same
    paper is used (m ∈ {3, 5, 7}, scaling at θ₇ = 3.93), which reaches the
    float32 unit roundoff with fewer products.

    Args:
      A: real square matrix or batch (..., n, n); integers promote.
      max_squarings: static bound on s (the squaring loop is a fixed-count
        `fori_loop` of `lax.cond`s, so it is reverse-differentiable). Inputs
        with ‖A‖₁ > θ·2^max_squarings return NaN.

    Returns:
      exp(A), same shape and dtype. `jax.grad` differentiates through the
      algorithm (the derivative of the approximant, accurate to the same
      order). NaN/inf input gives NaN.

    Complexity: (π_m + s) matrix products plus one LU solve, π₁₃ = 6:
    O((6 + s) n³).

    Differences: matches `scipy.linalg.expm` / `jax.scipy.linalg.expm` in
    value; `jax.scipy.linalg.expm` uses floor instead of ceil for s and a
    default of 16 squarings; complex input is not supported here.
    """
    A = _validate.real_square(A, "A")
    max_squarings = _validate.check_positive_int(max_squarings, "max_squarings",
                                                 allow_zero=True)
    if A.shape[-1] == 0:
        return A
    return _expm(A, max_squarings)


@functools.partial(jax.jit, static_argnames=("max_squarings",))
def _expm(A: jax.Array, max_squarings: int) -> jax.Array:
    n = A.shape[-1]
    return _expm_batch(A.reshape(-1, n, n), max_squarings).reshape(A.shape)


def funm_eigh(A: jax.Array, f: Callable[[jax.Array], jax.Array]) -> jax.Array:
    """f(A) = Q f(Λ) Qᵀ for a symmetric matrix A = Q Λ Qᵀ.

    Args:
      A: real symmetric matrix or batch (..., n, n). Only its symmetric part
        (A + Aᵀ)/2 is used.
      f: elementwise JAX function on the eigenvalues (e.g. `jnp.exp`,
        `jnp.sqrt`, `lambda x: 1 / x`); it receives a (..., n) array and must
        return the same shape.

    Returns:
      f(A), (..., n, n), symmetric. Differentiable through `jnp.linalg.eigh`
      when the eigenvalues are distinct (or f is smooth enough that the
      result does not depend on the choice of eigenvectors).

    Complexity: one symmetric eigendecomposition, O(n³).

    Reference: Higham, Functions of Matrices (2008), section 4.5.

    Differences: `scipy.linalg.funm` handles general A by Schur–Parlett;
    this is the symmetric special case, which is perfectly conditioned.
    """
    A = _validate.real_square(A, "A")
    if not callable(f):
        raise TypeError(f"`f` must be callable; got {type(f).__name__}.")
    sym = 0.5 * (A + jnp.swapaxes(A, -1, -2))
    w, Q = jnp.linalg.eigh(sym)
    fw = f(w)
    if fw.shape != w.shape:
        raise ValueError(
            f"`f` must map the eigenvalues (shape {w.shape}) elementwise; got shape {fw.shape}."
        )
    return _mm(Q * fw[..., None, :], jnp.swapaxes(Q, -1, -2))

