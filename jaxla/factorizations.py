"""Factorizations: Cholesky, LDLᵀ, LU, QR (Householder / Gram-Schmidt), RREF.

The heavy lifting is blocked and matmul-rich (see `jaxla._blocked`): block
loops are `lax.fori_loop`s over static-shape windows, so compile time does not
grow with n and the factorizations batch under `vmap` and differentiate
(reverse mode through the loops) like any other JAX program.

Differences from `jnp.linalg` / SciPy / PyTorch, all deliberate:
  * `cholesky` reads only the lower triangle (like LAPACK and
    `scipy.linalg.cholesky(lower=True)`; `jnp.linalg.cholesky` symmetrizes).
    Not positive definite -> every entry NaN (as `jnp.linalg.cholesky`).
  * `ldl` does not pivot (so it returns the (L, d) pair of the contract) and
    treats a pivot below n·eps·max|A_ii| as an exact zero: positive
    semidefinite input works, symmetric indefinite input needs pivoting
    (`scipy.linalg.ldl`) and may return non-finite values.
  * `lu` / `lu_factor` follow `jax.scipy.linalg` (A = P L U; 0-based LAPACK
    interchanges `piv`); square input only. A singular A is factored, with
    zeros on diag(U), like LAPACK.
  * `qr(method="mgs"|"cgs2")` support mode="reduced" only; a zero column of
    the Gram-Schmidt residual gives a zero column of Q.

References:
  Golub & Van Loan, Matrix Computations (4th ed.): 3.2 (LU), 4.1-4.2 (LDLᵀ,
    Cholesky), 5.1-5.2 (Householder, compact WY, Gram-Schmidt).
  N. J. Higham, Accuracy and Stability of Numerical Algorithms (2nd ed.),
    chapters 9, 10, 19.
  L. Giraud, J. Langou, M. Rozložník, The loss of orthogonality in the
    Gram-Schmidt orthogonalization process, Comput. Math. Appl. 50 (2005).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxla import _blocked, _validate
from jaxla._blocked import mm

_CHOLESKY_BLOCK = 128
_LU_BLOCK = 128
_QR_BLOCK = 64


def _block_size(block_size, default: int) -> int:
    if block_size is None:
        return default
    return _validate.check_positive_int(block_size, "block_size")


# ------------------------------------------------------------------ Cholesky
def _cholesky_single(A: jax.Array, nb: int) -> jax.Array:
    n = A.shape[-1]
    if n == 0:
        return A
    L = _blocked.chol_leaf(A) if n <= nb else _blocked.blocked_cholesky(A, nb)
    return jnp.where(jnp.all(jnp.isfinite(L)), L, jnp.nan)


def cholesky(A: jax.Array, *, block_size: int | None = None) -> jax.Array:
    """Lower Cholesky factor L of a symmetric positive definite A = L Lᵀ.

    L_jj = sqrt(A_jj - Σ_{k<j} L_jk²), L_ij = (A_ij - Σ_{k<j} L_ik L_jk) / L_jj,
    organized as a left-looking blocked algorithm: per block column one matmul
    with the factored columns, a recursive Cholesky of the diagonal block and
    a triangular solve (multiplication by the inverse diagonal block) for the
    rest of the column. Cost n³/3 flops (plus ~40% masked waste, see
    `jaxla._blocked`).

    Args:
      A: (..., n, n) symmetric positive definite; only the lower triangle is read.
      block_size: static block size (default 128); n <= block_size runs the
        recursive unblocked kernel.

    Returns:
      L (..., n, n), lower triangular with positive diagonal. When A is not
      positive definite (or holds NaN/inf) every entry is NaN, as in
      `jnp.linalg.cholesky`; use `is_positive_definite` or `checked` to test.

    Reference: Golub & Van Loan, section 4.2.
    """
    A = _validate.real_square(A, "A")
    return _cholesky(A, _block_size(block_size, _CHOLESKY_BLOCK))


@functools.partial(jax.jit, static_argnums=1)
def _cholesky(A: jax.Array, nb: int) -> jax.Array:
    return jnp.vectorize(lambda a: _cholesky_single(a, nb), signature="(n,n)->(n,n)")(A)


def is_positive_definite(A: jax.Array) -> jax.Array:
    """True where A is symmetric (to 10·n·eps·max|A|) and its Cholesky factor is finite.

    Args:
      A: (..., n, n).

    Returns:
      bool array of shape (...). Cholesky is the standard PD test: a negative
      (or zero) pivot means some vector has xᵀ A x <= 0.
    """
    A = _validate.real_square(A, "A")
    n = A.shape[-1]
    if n == 0:
        return jnp.ones(A.shape[:-2], bool)
    eps = jnp.finfo(A.dtype).eps
    asym = jnp.max(jnp.abs(A - jnp.swapaxes(A, -1, -2)), axis=(-2, -1))
    sym = asym <= 10 * n * eps * jnp.max(jnp.abs(A), axis=(-2, -1))
    L = cholesky(A)
    return sym & jnp.all(jnp.isfinite(L[..., 0, :]), axis=-1)


# ---------------------------------------------------------------------- LDLᵀ
class LDLResult(NamedTuple):
    """Result of `ldl`: A = L diag(d) Lᵀ.

    Attributes:
      L: (..., n, n) unit lower triangular.
      d: (..., n) the diagonal of D.
    """

    L: jax.Array
    d: jax.Array


def _ldl_single(A: jax.Array) -> LDLResult:
    n = A.shape[-1]
    if n == 0:
        return LDLResult(A, jnp.zeros((0,), A.dtype))
    idx = jnp.arange(n)
    tiny = n * jnp.finfo(A.dtype).eps * jnp.max(jnp.abs(jnp.diagonal(A)), initial=0.0)

    def body(j, carry):
        S, L, d = carry
        dj = S[j, j]
        zero = jnp.abs(dj) <= tiny  # numerically zero pivot: semidefinite direction
        dj = jnp.where(zero, 0, dj)
        c = jnp.where(idx > j, _blocked.column(S, j), 0)
        lcol = jnp.where(zero, 0, c / jnp.where(zero, 1, dj))
        S = S - lcol[:, None] * c[None, :]
        return S, L.at[:, j].set(lcol.at[j].set(1)), d.at[j].set(dj)

    # Work on the symmetrized lower triangle so that the update stays symmetric.
    S = jnp.tril(A) + jnp.tril(A, -1).T
    _, L, d = lax.fori_loop(0, n, body, (S, jnp.zeros_like(A), jnp.zeros((n,), A.dtype)))
    return LDLResult(L, d)


def ldl(A: jax.Array) -> LDLResult:
    """LDLᵀ factorization without pivoting: A = L diag(d) Lᵀ, L unit lower.

    d_j = S_jj, l_j = S_(j+1:),j / d_j, S <- S - l_j d_j l_jᵀ (right-looking,
    n³/3 flops as rank-1 updates). Unlike Cholesky it needs no square roots
    and works on positive *semi*definite input: a pivot with
    |d_j| <= n·eps·max|A_ii| is set to 0 and its column of L to e_j.
    Indefinite matrices with a zero leading minor need pivoting
    (`scipy.linalg.ldl`); here they give non-finite values.

    Args:
      A: (..., n, n) symmetric; the lower triangle is read.

    Returns:
      LDLResult(L, d). L_chol = L · diag(sqrt(d)) when A is PD.

    Reference: Golub & Van Loan, section 4.1.
    """
    A = _validate.real_square(A, "A")
    return LDLResult(*_ldl(A))


@jax.jit
def _ldl(A: jax.Array) -> tuple[jax.Array, jax.Array]:
    return jnp.vectorize(lambda a: tuple(_ldl_single(a)), signature="(n,n)->(n,n),(n)")(A)


# ------------------------------------------------------------------------ LU
def _lu_factor_perm_single(A: jax.Array, nb: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(lu, piv, perm) of one matrix; perm is piv as an index vector (A[perm] = L U)."""
    n = A.shape[-1]
    if n == 0:
        return A, jnp.zeros((0,), jnp.int32), jnp.zeros((0,), jnp.int32)
    if n <= nb:
        return _blocked.panel_lu(A, 0)
    return _blocked.blocked_lu(A, nb)


def _lu_factor_single(A: jax.Array, nb: int) -> tuple[jax.Array, jax.Array]:
    return _lu_factor_perm_single(A, nb)[:2]


def lu_factor(A: jax.Array, *, block_size: int | None = None) -> tuple[jax.Array, jax.Array]:
    """LU factorization with partial pivoting in compact LAPACK form.

    Right-looking blocked algorithm: each block column is factored by a
    recursive panel LU (Toledo), its row interchanges are applied to the whole
    matrix, then U12 = L11⁻¹ A12 and the trailing update A22 -= L21 U12 (one
    matmul). Cost (2/3) n³ flops.

    Args:
      A: (..., n, n).
      block_size: static block size (default 128).

    Returns:
      (lu, piv): `lu` holds U on and above the diagonal and the unit-lower L
      below it; row i was interchanged with row piv[i] (0-based, in order),
      as `jax.scipy.linalg.lu_factor`. Singular A: zeros on diag(U), no NaN.

    Reference: Golub & Van Loan, section 3.2.11 (block LU with pivoting).
    """
    A = _validate.real_square(A, "A")
    return _lu_factor(A, _block_size(block_size, _LU_BLOCK))


@functools.partial(jax.jit, static_argnums=1)
def _lu_factor(A: jax.Array, nb: int) -> tuple[jax.Array, jax.Array]:
    return jnp.vectorize(lambda a: _lu_factor_single(a, nb), signature="(n,n)->(n,n),(n)")(A)


@jax.jit
def pivots_to_permutation(piv: jax.Array) -> jax.Array:
    """perm with A[perm] = L U from the sequence of interchanges `piv` (..., n)."""
    return jnp.vectorize(lambda p: _blocked.swaps_to_permutation(p, p.shape[0]),
                         signature="(n)->(n)")(piv)


def lu(A: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """LU with partial pivoting as explicit factors: A = P L U.

    Args:
      A: (..., n, n).

    Returns:
      (P, L, U): permutation matrix P, unit lower L, upper U (the
      `jax.scipy.linalg.lu` convention; `torch.linalg.lu` agrees).
    """
    lu_, piv = lu_factor(A)
    n = lu_.shape[-1]
    perm = pivots_to_permutation(piv)
    P = jnp.swapaxes(jax.nn.one_hot(perm, n, dtype=lu_.dtype), -1, -2)
    L = jnp.tril(lu_, -1) + jnp.eye(n, dtype=lu_.dtype)
    return P, L, jnp.triu(lu_)


# ------------------------------------------------------------------------ QR
def _householder_single(A: jax.Array, complete: bool) -> tuple[jax.Array, jax.Array]:
    m, n = A.shape
    k = min(m, n)
    ncols = m if complete else k
    if k == 0:
        return jnp.eye(m, ncols, dtype=A.dtype), jnp.zeros((ncols, n), A.dtype)
    nb = min(_QR_BLOCK, k)
    F, Ts, _ = _blocked.blocked_householder(A, nb)
    Q = _blocked.householder_q(F, Ts, max(ncols, min(F.shape[0], Ts.shape[0] * nb)))
    return Q[:m, :ncols], jnp.triu(F[:ncols, :n])


def _mgs_single(A: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Modified Gram-Schmidt, row-oriented: q_j = a_j/‖a_j‖, a_k -= q_j (q_jᵀ a_k), k > j."""
    m, n = A.shape
    k = min(m, n)
    cols = jnp.arange(n)

    def body(j, carry):
        W, Q, R = carry
        a = _blocked.column(W, j)
        r = jnp.sqrt(jnp.sum(a * a))
        q = a / jnp.where(r > 0, r, 1)
        row = jnp.where(cols > j, mm(q, W), 0).at[j].set(r)
        W = W - q[:, None] * jnp.where(cols > j, row, 0)[None, :]
        return W, Q.at[:, j].set(q), R.at[j].set(row)

    init = (A, jnp.zeros((m, k), A.dtype), jnp.zeros((k, n), A.dtype))
    _, Q, R = lax.fori_loop(0, k, body, init)
    return Q, R


def _classical_gs_single(A: jax.Array, passes: int) -> tuple[jax.Array, jax.Array]:
    """Classical Gram-Schmidt with `passes` projections per column (2 = CGS2)."""
    m, n = A.shape
    k = min(m, n)
    idx = jnp.arange(k)

    def body(j, carry):
        Q, R = carry
        v = _blocked.column(A, j)
        r = jnp.zeros((k,), A.dtype)
        for _ in range(passes):  # static, 1 or 2
            s = jnp.where(idx < j, mm(Q.T, v), 0)
            v = v - mm(Q, s)
            r = r + s
        rjj = jnp.sqrt(jnp.sum(v * v))
        q = v / jnp.where(rjj > 0, rjj, 1)
        return Q.at[:, j].set(q), R.at[:, j].set(r.at[j].set(rjj))

    Q, R = lax.fori_loop(0, k, body, (jnp.zeros((m, k), A.dtype), jnp.zeros((k, n), A.dtype)))
    if n > k:  # wide: Q is already a complete basis, one projection is exact
        R = R.at[:, k:].set(mm(Q.T, A[:, k:]))
    return Q, R


_QR_METHODS = ("householder", "mgs", "cgs2")


def qr(A: jax.Array, *, method: str = "householder",
       mode: str = "reduced") -> tuple[jax.Array, jax.Array]:
    """QR factorization A = Q R.

    * "householder": blocked Householder with the compact WY form
      H_1…H_b = I - V T Vᵀ; the trailing matrix is updated with three matmuls
      per block; Q is accumulated backwards. Backward stable:
      ‖QᵀQ - I‖ = O(eps). Cost ~(4/3) n³ for R plus the same for Q (square).
    * "mgs": modified Gram-Schmidt; ‖QᵀQ - I‖ = O(eps·κ(A)).
    * "cgs2": classical Gram-Schmidt with one reorthogonalization ("twice is
      enough"); ‖QᵀQ - I‖ = O(eps) for numerically full-rank A. (Plain
      classical GS loses orthogonality like O(eps·κ²).)

    Args:
      A: (..., m, n).
      method: static, one of "householder", "mgs", "cgs2".
      mode: "reduced" (Q (..., m, k), R (..., k, n), k = min(m, n)) or
        "complete" (Q (..., m, m), R (..., m, n); Householder only).

    Returns:
      (Q, R). R's diagonal may be negative (as LAPACK/`jnp.linalg.qr`).

    Reference: Golub & Van Loan, sections 5.1.7, 5.2.3, 5.2.8.
    """
    A = _validate.as_float_array(A, "A", allow_complex=False)
    _validate.check_matrix(A, "A")
    _validate.check_choice(method, "method", _QR_METHODS)
    _validate.check_choice(mode, "mode", ("reduced", "complete"))
    m, n = A.shape[-2:]
    if method != "householder" and mode == "complete" and m > n:
        raise ValueError(
            f"`mode`='complete' needs `method`='householder'; got method={method!r}.")
    return _qr(A, method, mode)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _qr(A: jax.Array, method: str, mode: str) -> tuple[jax.Array, jax.Array]:
    if method == "householder":
        fn = lambda a: _householder_single(a, mode == "complete")  # noqa: E731
    elif method == "mgs":
        fn = _mgs_single
    else:
        fn = lambda a: _classical_gs_single(a, 2)  # noqa: E731
    return jnp.vectorize(fn, signature="(m,n)->(m,q),(q,n)")(A)


# ---------------------------------------------------------------------- RREF
class RREFResult(NamedTuple):
    """Result of `rref`.

    Attributes:
      R: (..., m, n) reduced row echelon form (pivots 1, zeros above/below).
      pivots: (..., min(m, n)) int32 pivot columns in increasing order,
        padded with -1 after the first `rank` entries.
      rank: (...) int32 number of pivots.
    """

    R: jax.Array
    pivots: jax.Array
    rank: jax.Array


def _rref_single(A: jax.Array, tol: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    m, n = A.shape
    k = min(m, n)
    rows = jnp.arange(m)

    def body(j, carry):
        R, r, piv = carry
        colv = _blocked.column(R, j)
        mag = jnp.where(rows >= r, jnp.abs(colv), -1)
        p = jnp.argmax(mag)
        ok = (mag[p] > tol) & (r < m)
        rr = jnp.minimum(r, m - 1)
        Rs = _blocked.swap_rows(R, rr, p)
        prow = Rs[rr] / jnp.where(ok, Rs[rr, j], 1)
        f = jnp.where(rows != rr, _blocked.column(Rs, j), 0)
        Rs = (Rs - f[:, None] * prow[None, :]).at[rr].set(prow)
        Rs = Rs.at[:, j].set(jnp.where(rows == rr, 1, 0).astype(A.dtype))
        # no pivot: the entries below row r are below `tol`; make them exact zeros
        Rn = R.at[:, j].set(jnp.where(rows >= r, 0, colv))
        piv = jnp.where(ok, piv.at[jnp.minimum(r, k - 1)].set(j.astype(jnp.int32)), piv)
        return jnp.where(ok, Rs, Rn), r + ok.astype(jnp.int32), piv

    R, rank, piv = lax.fori_loop(
        0, n, body, (A, jnp.zeros((), jnp.int32), jnp.full((k,), -1, jnp.int32)))
    return R, piv, rank


def rref(A: jax.Array, *, tol=None) -> RREFResult:
    """Reduced row echelon form by Gauss-Jordan elimination with partial pivoting.

    Column by column: the largest |entry| at or below the current pivot row is
    the pivot if it exceeds `tol` (else the column is free and its remaining
    entries are set to 0); the pivot row is scaled to 1 and the column is
    eliminated above and below. Cost O(m n min(m, n)). Rank = number of pivots.

    Args:
      A: (..., m, n).
      tol: pivot threshold (may be traced); default max(m, n)·eps·‖A‖_∞
        (MATLAB's `rref` default).

    Returns:
      RREFResult(R, pivots, rank). Unlike sympy's exact `rref`, this is
      floating point: the rank decision depends on `tol`.

    Reference: Strang, Introduction to Linear Algebra, section 3.3.
    """
    A = _validate.as_float_array(A, "A", allow_complex=False)
    _validate.check_matrix(A, "A")
    m, n = A.shape[-2:]
    if tol is None:
        norm_inf = jnp.max(jnp.sum(jnp.abs(A), axis=-1), axis=-1, initial=0.0)
        tol = max(m, n) * jnp.finfo(A.dtype).eps * norm_inf
    tol = jnp.asarray(tol, A.dtype)
    if m == 0 or n == 0:
        return RREFResult(A, jnp.zeros(A.shape[:-2] + (0,), jnp.int32),
                          jnp.zeros(A.shape[:-2], jnp.int32))
    return RREFResult(*_rref(A, tol))


@jax.jit
def _rref(A: jax.Array, tol: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    return jnp.vectorize(_rref_single, signature="(m,n),()->(m,n),(k),()")(A, tol)
