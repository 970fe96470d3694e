"""Krylov-subspace eigen-solvers: Lanczos (symmetric) and Arnoldi (general).

Both build an orthonormal basis of K_m(A, v0) = span{v0, A v0, ..., A^{m-1} v0}
with a fixed number of steps (`lax.fori_loop`, so they are jit-friendly and
reverse-differentiable) and *full reorthogonalization* (classical Gram-Schmidt
applied twice, "CGS2", against every previous basis vector), which keeps the
basis orthonormal to working precision at O(n m²) extra cost. A is a dense
matrix or any linear callable (`matvec`, including `jax.tree_util.Partial`).

Breakdown (the Krylov space is invariant, e.g. v0 is an eigenvector or A = 0)
sets the next off-diagonal to exactly 0 and continues from a deterministic
pseudo-random vector orthogonalized against the basis, so T / H stay exact and
the basis stays orthonormal.

`lanczos_eigsh` also has a block mode (a start block v0 of shape (n, b)):
block Lanczos with block CGS2 reorthogonalization and "QR twice" to
orthonormalize each new block (dependent columns are replaced by random
directions), Rayleigh-Ritz on the block tridiagonal T. Its matrix-matrix
products make far fewer passes over A than single-vector Lanczos.

Differences from SciPy's `eigsh` (ARPACK): no implicit restarts and no
tolerance — the accuracy is controlled by `num_iters` (the subspace size), and
results are returned in ascending order. For dense A, `lanczos_eigsh` has an
implicit-differentiation rule (dλᵢ = vᵢᵀ dA vᵢ, exact for simple eigenvalues
of symmetric A); for callables, gradients flow through the iteration itself.

References: Saad, Numerical Methods for Large Eigenvalue Problems (2nd ed.),
§6.2 (Arnoldi) and §6.6 (Lanczos); Golub & Van Loan (4th ed.) §10.1;
Parlett, The Symmetric Eigenvalue Problem, ch. 13 (full reorthogonalization).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxla import _validate
from jaxla.eigen import EighResult, _eigpair_tangent, _prepare

_HIGHEST = lax.Precision.HIGHEST


def _mm(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.matmul(a, b, precision=_HIGHEST)


def _krylov(matvec, v0: jax.Array, m: int):
    """m steps of Arnoldi with CGS2 reorthogonalization.

    Returns (Q (n, m+1), H (m+1, m)) with A Q[:, :m] = Q H. For symmetric A, H
    is tridiagonal up to rounding.
    """
    n = v0.shape[0]
    dtype = v0.dtype
    eps = jnp.finfo(dtype).eps
    key = jax.random.key(0)
    Q = jnp.zeros((n, m + 1), dtype).at[:, 0].set(v0 / jnp.linalg.norm(v0))

    def orthogonalize(Q, w):
        h1 = _mm(Q.T, w)
        w = w - _mm(Q, h1)
        h2 = _mm(Q.T, w)
        return w - _mm(Q, h2), h1 + h2

    def step(j, carry):
        Q, H = carry
        q = lax.dynamic_index_in_dim(Q, j, axis=1, keepdims=False)
        w = matvec(q).astype(dtype)
        scale = jnp.linalg.norm(w)
        w, h = orthogonalize(Q, w)
        beta = jnp.linalg.norm(w)
        breakdown = ~(beta > eps * scale)
        def new_direction(_):
            r = jax.random.normal(jax.random.fold_in(key, j), (n,), dtype)
            r, _ = orthogonalize(Q, r / jnp.linalg.norm(r))
            r, _ = orthogonalize(Q, r)
            rn = jnp.linalg.norm(r)
            return jnp.where(rn > jnp.sqrt(eps), r / jnp.where(rn > 0, rn, 1.0), 0.0)

        def normalized(_):
            return w / jnp.where(breakdown, 1.0, beta)

        # `cond`: the restart costs two more passes over Q, paid only on breakdown
        # (under vmap both branches run, as a select).
        q_next = lax.cond(breakdown, new_direction, normalized, None)
        beta = jnp.where(breakdown, 0.0, beta)
        Q = lax.dynamic_update_index_in_dim(Q, q_next, j + 1, axis=1)
        col = h.at[j + 1].set(beta)[: m + 1]
        H = lax.dynamic_update_index_in_dim(H, col, j, axis=1)
        return Q, H

    return lax.fori_loop(0, m, step, (Q, jnp.zeros((m + 1, m), dtype)))


def _lanczos(matvec, v0, k: int, m: int, which: str):
    Q, H = _krylov(matvec, v0, m)
    alpha = jnp.diagonal(H)
    beta = jnp.diagonal(H, -1)[: m - 1]
    T = jnp.diag(alpha) + jnp.diag(beta, 1) + jnp.diag(beta, -1)
    theta, S = jnp.linalg.eigh(T)
    sel = slice(m - k, m) if which == "largest" else slice(0, k)
    return theta[sel], _mm(Q[:, :m], S[:, sel])


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2))
def _lanczos_dense(k, m, which, A, v0):
    return _lanczos(lambda v: _mm(A, v), v0, k, m, which)


@_lanczos_dense.defjvp
def _lanczos_dense_jvp(k, m, which, primals, tangents):
    A, v0 = primals
    dA = tangents[0]
    lam, V = _lanczos_dense(k, m, which, A, v0)
    dlam, dV = jax.vmap(lambda l, v: _eigpair_tangent(A, dA, l, v), in_axes=(0, 1),
                        out_axes=(0, 1))(lam, V)
    return (lam, V), (dlam, dV)


# ------------------------------------------------------------- block Lanczos
def _cgs(Q: jax.Array, W: jax.Array, passes: int) -> jax.Array:
    """W − Q QᵀW, `passes` times (block classical Gram-Schmidt; zero columns of Q are inert)."""
    for _ in range(passes):  # static: 1 or 2 passes
        W = W - _mm(Q, _mm(Q.T, W))
    return W


def _next_block(Q: jax.Array, W: jax.Array, key: jax.Array):
    """Orthonormal (n, b) block spanning the part of span(W) ⊥ Q ("QR twice").

    W is projected off Q (CGS2) and QR-factorized; the orthonormal factor is
    projected once more and re-factorized. A column whose second R diagonal is
    < 1/2 marks a (numerically) dependent column of W (Kahan's "twice is
    enough" test); those columns are replaced by random vectors and the block is
    rebuilt, so the result is always orthonormal and ⊥ Q (breakdown handling).
    Returns (Q_new, W projected off Q).
    """
    W = _cgs(Q, W, 2)
    Q1 = jnp.linalg.qr(W)[0]
    Q2, R2 = jnp.linalg.qr(_cgs(Q, Q1, 1))
    bad = ~(jnp.abs(jnp.diagonal(R2)) >= 0.5)
    bad = bad & jnp.isfinite(R2[0, 0])  # NaN input: propagate, no repair

    def repair(_):
        G = _cgs(Q, jax.random.normal(key, W.shape, W.dtype), 2)
        G = G / jnp.maximum(jnp.linalg.norm(G, axis=0), jnp.finfo(W.dtype).tiny)
        Q1r = jnp.linalg.qr(_cgs(Q, jnp.where(bad, G, W), 2))[0]
        return jnp.linalg.qr(_cgs(Q, Q1r, 1))[0]

    # `cond`: the rebuild is paid only on breakdown (under vmap both branches run).
    return lax.cond(jnp.any(bad), repair, lambda _: Q2, None), W


def _block_lanczos(matmat, V0: jax.Array, k: int, s: int, which: str):
    """s block steps (block size b = V0.shape[1]) with full reorthogonalization.

    Q = [Q_0 … Q_{s-1}] (n, s·b) orthonormal and the block tridiagonal
    T = QᵀAQ (diagonal blocks D_j = Q_jᵀAQ_j, sub-diagonal B_j = Q_{j+1}ᵀAQ_j),
    then Rayleigh-Ritz on T.
    """
    n, b = V0.shape
    m = s * b
    dtype = V0.dtype
    key = jax.random.key(0)
    Q = jnp.zeros((n, m), dtype)
    Q0, _ = _next_block(Q, V0 / jnp.max(jnp.linalg.norm(V0, axis=0)), key)
    Q = lax.dynamic_update_slice(Q, Q0, (0, 0))

    def diag_block(Q, T, j):
        Qj = lax.dynamic_slice(Q, (0, j * b), (n, b))
        AQ = matmat(Qj).astype(dtype)
        D = _mm(Qj.T, AQ)
        return AQ, lax.dynamic_update_slice(T, 0.5 * (D + D.T), (j * b, j * b))

    def step(j, carry):
        Q, T = carry
        AQ, T = diag_block(Q, T, j)
        Qn, W = _next_block(Q, AQ, jax.random.fold_in(key, j + 1))
        B = _mm(Qn.T, W)
        T = lax.dynamic_update_slice(T, B, ((j + 1) * b, j * b))
        T = lax.dynamic_update_slice(T, B.T, (j * b, (j + 1) * b))
        return lax.dynamic_update_slice(Q, Qn, (0, (j + 1) * b)), T

    Q, T = lax.fori_loop(0, s - 1, step, (Q, jnp.zeros((m, m), dtype)))
    _, T = diag_block(Q, T, s - 1)
    theta, S = jnp.linalg.eigh(T)
    sel = slice(m - k, m) if which == "largest" else slice(0, k)
    return theta[sel], _mm(Q, S[:, sel])


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2))
def _block_lanczos_dense(k, s, which, A, V0):
    return _block_lanczos(lambda X: _mm(A, X), V0, k, s, which)


@_block_lanczos_dense.defjvp
def _block_lanczos_dense_jvp(k, s, which, primals, tangents):
    A, V0 = primals
    lam, V = _block_lanczos_dense(k, s, which, A, V0)
    dlam, dV = jax.vmap(lambda l, v: _eigpair_tangent(A, tangents[0], l, v), in_axes=(0, 1),
                        out_axes=(0, 1))(lam, V)
    return (lam, V), (dlam, dV)


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _block_lanczos_batched(A, V0, k, s, which):
    return jnp.vectorize(functools.partial(_block_lanczos_dense, k, s, which),
                         signature="(n,n),(n,b)->(k),(n,k)")(A, V0)


def _default_block_steps(num_iters, n: int, b: int, k: int) -> int:
    if b > n:
        raise ValueError(f"`v0` block width b = {b} must be <= n = {n} (v0 is (n, b)).")
    if k > b * (n // b):
        raise ValueError(f"`k` must be <= b * floor(n / b) = {b * (n // b)} for a block of "
                         f"width b = {b}; got {k}.")
    if num_iters is None:
        return min(n // b, max(5, -(-max(3 * k, 30) // b) + 1))
    num_iters = _validate.check_positive_int(num_iters, "num_iters")
    if not k <= num_iters * b <= n:
        raise ValueError(f"`num_iters` (block steps) must satisfy k <= num_iters * b <= n = {n}"
                         f"; got num_iters = {num_iters} with b = {b}, k = {k}.")
    return num_iters


def _default_num_iters(num_iters, n: int, k: int) -> int:
    if num_iters is None:
        return min(n, max(3 * k, 30))
    num_iters = _validate.check_positive_int(num_iters, "num_iters")
    if not k <= num_iters <= n:
        raise ValueError(f"`num_iters` must satisfy k <= num_iters <= n = {n}; got {num_iters}"
                         f" with k = {k}.")
    return num_iters


def lanczos_eigsh(A: Any, v0: jax.Array, k: int, *, num_iters: int | None = None,
                  which: str = "largest") -> EighResult:
    """k extreme eigenpairs of a symmetric A by (block) Lanczos with full reorthogonalization.

    Builds Q_m (orthonormal basis of K_m(A, v0)) and T_m = Q_mᵀ A Q_m
    (tridiagonal: αⱼ = qⱼᵀAqⱼ, βⱼ = ‖rⱼ‖), then returns Ritz pairs
    (θᵢ, Q_m sᵢ) from T_m sᵢ = θᵢ sᵢ. Extreme eigenvalues converge first, at a
    rate governed by their gap relative to the spectral spread (Kaniel-Paige).
    Cost: m products with A plus O(n m²) for reorthogonalization; memory n·m.

    Block mode (v0 of shape (n, b)): the block Krylov space
    span{V0, AV0, …, A^{s-1}V0} of dimension s·b with Q_{j+1}B_j = AQ_j − Σ Q_i(Q_iᵀAQ_j)
    (block CGS2 against all previous blocks, then QR twice), T block tridiagonal.
    It makes s passes over A with b columns each instead of s·b single
    products, so a memory-bound dense A (or a batched operator) is read b times
    less often; with b >= k the convergence rate of λ_k is governed by the gap to
    λ_{b+1} rather than λ_{k+1} (Golub & Underwood 1977).

    Args:
      A: symmetric dense (..., n, n) or a linear callable on (n,) vectors
        (e.g. `jaxla.operators.hvp`). In block mode a callable is applied to
        the (n, b) block with `jax.vmap` over columns (for a matrix-vector
        closure this becomes one matrix-matrix product).
      v0: nonzero start vector (..., n), or a start block (..., n, b), b <= n,
        for block Lanczos. For dense A, v0 is a block iff v0.ndim >= A.ndim
        (so a single A with a 2-D v0 is always block mode); for a callable iff
        v0.ndim == 2. A rank-deficient block is completed with random directions.
      k: static number of eigenpairs.
      num_iters: static. Vector mode: Krylov dimension m, k <= m <= n (default
        min(n, max(3k, 30))); with m = n the result is exact up to rounding.
        Block mode: number of block steps s (passes over A), k <= s·b <= n
        (default min(⌊n/b⌋, max(5, ⌈max(3k, 30)/b⌉ + 1)), about the vector-mode
        subspace size in ≥ 5 passes). Slowly decaying spectra need more steps.
      which: "largest" or "smallest" (algebraic).

    Returns:
      `EighResult` with eigenvalues (..., k) ascending and Ritz vectors
      (..., n, k). For dense A, `jax.grad` of an eigenvalue w.r.t. A is vᵢvᵢᵀ
      (both modes).

    Reference: Saad (2nd ed.) §6.6; Golub & Van Loan (4th ed.) §10.1 and
    §10.3.6 (block Lanczos); Golub & Underwood, "The block Lanczos method for
    computing eigenvalues" (1977).
    """
    k = _validate.check_positive_int(k, "k")
    which = _validate.check_choice(which, "which", ("largest", "smallest"))
    v0 = _validate.as_float_array(v0, "v0", allow_complex=False)
    if _validate.is_operator(A):
        if v0.ndim not in (1, 2):
            raise ValueError(f"`v0` must have 1 or 2 dimensions ((n,) or a block (n, b)) for "
                             f"an operator `A`; got shape {tuple(v0.shape)}.")
        block = v0.ndim == 2
    else:
        block = v0.ndim >= 2 and v0.ndim >= np.ndim(A)
    if block:
        A, v0, dense = _prepare(A, v0, v_ndim=2)
        n, b = v0.shape[-2:]
        s = _default_block_steps(num_iters, n, b, k)
        if not dense:
            matmat = jax.vmap(A, in_axes=1, out_axes=1)
            return EighResult(*_block_lanczos(matmat, v0, k, s, which))
        return EighResult(*_block_lanczos_batched(A, v0, k, s, which))
    A, v0, dense = _prepare(A, v0)
    n = v0.shape[-1]
    if k > n:
        raise ValueError(f"`k` must be <= n = {n}; got {k}.")
    m = _default_num_iters(num_iters, n, k)
    if not dense:
        return EighResult(*_lanczos(A, v0, k, m, which))
    return EighResult(*_lanczos_batched(A, v0, k, m, which))


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _lanczos_batched(A, v0, k, m, which):
    return jnp.vectorize(functools.partial(_lanczos_dense, k, m, which),
                         signature="(n,n),(n)->(k),(n,k)")(A, v0)


class ArnoldiResult(NamedTuple):
    """Arnoldi factorization A Q[:, :m] = Q H.

    Attributes:
      Q: (..., n, m+1) orthonormal basis of K_{m+1}(A, v0) (a column is zero
        when no new direction exists, i.e. m = n).
      H: (..., m+1, m) upper Hessenberg, H = Qᵀ A Q[:, :m].
    """

    Q: jax.Array
    H: jax.Array


def arnoldi(A: Any, v0: jax.Array, num_iters: int) -> ArnoldiResult:
    """Arnoldi iteration: orthonormal Krylov basis and Hessenberg projection.

    q_{j+1} h_{j+1,j} = A q_j − Σ_{i<=j} h_{ij} q_i, with CGS2 full
    reorthogonalization. Eigenvalues of H[:m, :m] (Ritz values) approximate
    eigenvalues of A, the outer ones first. Cost: m products with A plus
    O(n m²).

    Args:
      A: dense (..., n, n) or a linear callable on (n,) vectors.
      v0: nonzero start vector (..., n) ((n,) for a callable).
      num_iters: static number of steps m, 1 <= m <= n.

    Returns:
      `ArnoldiResult(Q, H)` (a tuple: `Q, H = arnoldi(...)`).

    Reference: Saad (2nd ed.) §6.2, Algorithm 6.1; Golub & Van Loan (4th ed.)
    §10.5.1.
    """
    A, v0, dense = _prepare(A, v0)
    n = v0.shape[-1]
    m = _validate.check_positive_int(num_iters, "num_iters")
    if m > n:
        raise ValueError(f"`num_iters` must be <= n = {n}; got {m}.")
    if not dense:
        return ArnoldiResult(*_krylov(A, v0, m))
    return ArnoldiResult(*_arnoldi_batched(A, v0, m))


@functools.partial(jax.jit, static_argnums=2)
def _arnoldi_batched(A, v0, m):
    return jnp.vectorize(lambda a, v: _krylov(lambda x: _mm(a, x), v, m),
                         signature="(n,n),(n)->(n,p),(p,m)")(A, v0)
