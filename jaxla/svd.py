"""Singular value decomposition by one-sided (Hestenes) Jacobi.

`svd(A)` orthogonalizes the columns of A by plane rotations applied from the
right, A V = W, until every pair of columns of W is numerically orthogonal;
then σ_j = ‖w_j‖, u_j = w_j / σ_j and A = U diag(σ) Vᵀ. Each rotation is the
Jacobi rotation that diagonalizes the 2×2 Gram matrix [[α, γ], [γ, β]] of one
column pair (α = ‖w_p‖², β = ‖w_q‖², γ = w_pᵀ w_q), skipped when
|γ| ≤ tol·√(αβ), tol = √m·eps (LAPACK xGESVJ's threshold).

Block formulation (what makes a sweep matmul-bound): the columns are split
into blocks of b = 8 and the blocks are paired by the round-robin ("chess
tournament") ordering. In one round every pair of blocks, all at once,
forms its 2b×2b Gram matrix (one batched matmul), runs two-sided Jacobi on
it with the rotations above (b disjoint rotations per step; for a positive
definite Gram these are the one-sided rotations, Demmel & Veselić), and
applies the accumulated 2b×2b rotation to its columns and to V (one batched
matmul). A sweep (nb − 1 rounds for nb blocks) rotates every column pair
exactly once, like the scalar cyclic method, with n-sized work only in
matmuls. Sweeps repeat inside `lax.while_loop` until the Gram matrix WᵀW,
formed afresh after each sweep, has every |cos∠(w_i, w_j)| ≤ 2·tol (so no
extra sweep is spent just to find that nothing rotates), until a sweep
rotates nothing, or until `max_sweeps`.

By default (`precondition=True`) tall and square matrices are first reduced
by a QR factorization A = Q R (`jnp.linalg.qr`, i.e. LAPACK's Householder
geqrf), and Jacobi runs on Rᵀ (Drmač & Veselić), which converges in fewer
sweeps than Jacobi on A (2 instead of 20 on strongly graded matrices); the
left singular vectors U = Q V come from accumulated rotations, so they are
orthonormal even when A is rank deficient. Unless the columns of A are
graded (column norms more than 8× apart), Jacobi then starts from Rᵀ V0,
V0 the eigenvectors of R Rᵀ (LAPACK's syevd; Okša & Vajteršic's
preconditioner), whose columns are nearly orthogonal (|cos∠(w_i, w_j)| ≈
eps·σ_1²/(σ_i σ_j), the rounding of the Gram matrix): one or two sweeps
finish a well-conditioned matrix (one for a Gaussian 256×256) instead of
eight. The preconditioner costs the relative
accuracy that Jacobi has on graded matrices by at most the column-norm
spread (see `_eigenvector_preconditioner`), so graded matrices skip it.
Wide matrices are handled through Aᵀ.

Differences from `jnp.linalg.svd` / `numpy.linalg.svd`: results are a
`SVDResult(U, S, Vh)` NamedTuple (same order and shapes as `jnp.linalg.svd`,
singular values descending); real inputs only; singular vectors of zero (or
numerically zero) singular values are completed to an orthonormal set by a
QR step instead of being left arbitrary; the gradient is a custom JVP (the
standard SVD perturbation formula) valid for distinct, non-zero singular
values, and only for `full_matrices=False`.

References:
  M. R. Hestenes, Inversion of matrices by biorthogonalization, J. SIAM 6 (1958).
  J. Demmel & K. Veselić, Jacobi's method is more accurate than QR, SIMAX 13 (1992).
  Z. Drmač & K. Veselić, New fast and accurate Jacobi SVD algorithm I, SIMAX 29 (2008).
  M. Bečka, G. Okša & M. Vajteršic, Dynamic ordering for a parallel block-Jacobi
    SVD algorithm, Parallel Computing (2002) (block one-sided Jacobi).
  G. Okša & M. Vajteršic, Efficient pre-processing in the parallel block-Jacobi
    SVD algorithm, Parallel Computing (2006) (eigenvector preconditioning).
  Golub & Van Loan, Matrix Computations (4th ed.), section 8.6.4.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxla import _validate

_HIGHEST = lax.Precision.HIGHEST


class SVDResult(NamedTuple):
    """Result of `svd`: A = U @ diag(S) @ Vh.

    Attributes:
      U: left singular vectors as columns, (..., m, k) (k = min(m, n)), or
        (..., m, m) with `full_matrices=True`.
      S: singular values in descending order, (..., k).
      Vh: right singular vectors as rows, (..., k, n), or (..., n, n) with
        `full_matrices=True`.
    """

    U: jax.Array
    S: jax.Array
    Vh: jax.Array


# Columns per block of the block-Jacobi engine: small enough that the 2b×2b
# Gram sub-problems stay cheap, large enough that a round is a few matmuls.
_BLOCK = 8
# Column-norm spread max/min above which the eigenvector preconditioner is
# skipped (graded columns: plain Jacobi keeps their relative accuracy).
_GRADED_SPREAD = 8.0


def _block_shape(n: int) -> tuple[int, int]:
    """(b, nb): block width b and an even block count nb with nb·b >= n."""
    nb = 2 * -(-n // (2 * _BLOCK))
    return -(-n // nb), nb


def _tournament(k: int) -> np.ndarray:
    """One round-robin move of 2k seats, X = 0..k-1 paired with Y = k..2k-1.

    Seat 0 stays, everybody else moves one seat: X[1] → X[2] → … → X[k-1] →
    Y[k-1] → … → Y[0] → X[1]. Returns the new seating as old indices; after
    2k − 1 moves every pair has met once and the seating is back to the start.
    """
    if k == 1:
        return np.arange(2)
    x, y = list(range(k)), list(range(k, 2 * k))
    return np.array([x[0], y[0], *x[1:-1], *y[1:], x[-1]])


def _cross_shift(k: int) -> np.ndarray:
    """Rotate the Y half by one seat: after k moves X[i] has met every Y[j]."""
    return np.array([*range(k), *range(k + 1, 2 * k), k])


def _block_tournament(p: int) -> np.ndarray:
    """`_tournament(p)` on blocks stored pair by pair: X_i at 2i, Y_i at 2i + 1."""
    move = _tournament(p)
    flat = lambda seat: 2 * seat if seat < p else 2 * (seat - p) + 1  # noqa: E731
    return np.array([flat(move[seat]) for i in range(p) for seat in (i, p + i)])


def _diagonal(X: jax.Array) -> jax.Array:
    """Diagonal of the trailing square dimensions (a masked sum: it fuses)."""
    k = X.shape[-1]
    eye = lax.broadcasted_iota(jnp.int32, (k, k), 0) == lax.broadcasted_iota(jnp.int32, (k, k), 1)
    return jnp.sum(jnp.where(eye, X, 0.0), axis=-1)


def _cosines(G: jax.Array) -> jax.Array:
    """|G_ij| / √(G_ii G_jj): the |cos| of the angles between columns, Gram G."""
    root = jnp.sqrt(_diagonal(G))
    scale = root[..., :, None] * root[..., None, :]
    return jnp.abs(G) / jnp.where(scale > 0, scale, 1.0)


def _max_cosine(G: jax.Array) -> jax.Array:
    k = G.shape[-1]
    eye = lax.broadcasted_iota(jnp.int32, (k, k), 0) == lax.broadcasted_iota(jnp.int32, (k, k), 1)
    return jnp.max(jnp.where(eye, 0.0, _cosines(G)))


def _rotation(alpha, beta, gamma, tol):
    """(c, s) of the Jacobi rotations that orthogonalize column pairs with Gram
    [[α, γ], [γ, β]] (columns p, q → c·p − s·q, s·p + c·q); identity where
    |γ| ≤ tol·√(αβ) (LAPACK xGESVJ's threshold)."""
    # tan θ = sign(β − α)·2γ / (|β − α| + hypot(β − α, 2γ)) is the smaller
    # root of t² + 2ζt − 1 = 0, ζ = (β − α)/(2γ), so |θ| ≤ π/4; written
    # without ζ it needs one division and cannot overflow.
    tau = beta - alpha
    den = jnp.abs(tau) + jnp.hypot(tau, 2.0 * gamma)
    t = jnp.where(tau >= 0, 2.0 * gamma, -2.0 * gamma) / jnp.where(den > 0, den, 1.0)
    c = lax.rsqrt(1.0 + t * t)
    rotate = jnp.abs(gamma) > tol * (jnp.sqrt(alpha) * jnp.sqrt(beta))
    return jnp.where(rotate, c, 1.0), jnp.where(rotate, c * t, 0.0)


def _reseat(X: jax.Array, seats: np.ndarray, axis: int) -> jax.Array:
    """X permuted along `axis` by the static `seats`, as slices of contiguous runs
    (they fuse with the surrounding arithmetic, where a gather would not)."""
    cuts = [0, *(i for i in range(1, len(seats)) if seats[i] != seats[i - 1] + 1), len(seats)]
    parts = [lax.slice_in_dim(X, int(seats[i]), int(seats[j - 1]) + 1, axis=axis)
             for i, j in zip(cuts[:-1], cuts[1:])]
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=axis)


def _rotate_pairs(G, Z, tol, seats):
    """One step of two-sided Jacobi on the Gram matrices G (p, 2b, 2b).

    Rotates the b disjoint pairs (i, b + i) at once (rows and columns of G,
    rows of the accumulated transformation Z), then reseats by `seats`.
    """
    k = G.shape[-1]
    b = k // 2
    # Diagonals as strided slices of the flattened matrices.
    flat = G.reshape(*G.shape[:-2], k * k)
    d = flat[..., ::k + 1]
    c, s = _rotation(d[..., :b], d[..., b:], flat[..., b::k + 1][..., :b], tol)
    # Materialize (c, s) once: otherwise XLA splits their computation into
    # several small kernels, one per consumer (a third of the step's time).
    cs = lax.optimization_barrier(jnp.stack([c, s]))
    c, s = cs[0][..., :, None], cs[1][..., :, None]
    # Rows of G and Z together (Z's rows rotate like the columns of W).
    T = jnp.concatenate([G, Z], axis=-1)
    X, Y = T[..., :b, :], T[..., b:, :]
    T = _reseat(jnp.concatenate([c * X - s * Y, s * X + c * Y], axis=-2), seats, T.ndim - 2)
    G, Z = T[..., :k], T[..., k:]
    c, s = jnp.swapaxes(c, -1, -2), jnp.swapaxes(s, -1, -2)
    X, Y = G[..., :b], G[..., b:]
    G = jnp.concatenate([c * X - s * Y, s * X + c * Y], axis=-1)
    return _reseat(G, seats, G.ndim - 1), Z


def _jacobi_columns(W: jax.Array, max_sweeps: int, V0: jax.Array | None = None,
                    ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Block one-sided Jacobi on the columns of W (m, n): W V = W', V orthogonal.

    Returns (W V0 V, V0 V, sweeps) where the columns of W V0 V are mutually
    orthogonal (V0 = I by default; pass V0 with W already multiplied by it).

    The columns (of W, with the matching columns of V riding along) are
    stored as rows and split into nb blocks of b. A round pairs the blocks
    (p = nb/2 disjoint pairs) and, for every pair at once, forms the 2b×2b
    Gram matrix with one batched matmul, runs two-sided Jacobi on it (b
    parallel rotations per step, the same rotations and threshold as scalar
    one-sided Jacobi), and applies the accumulated 2b×2b rotation to the
    pair's columns with a second batched matmul. The blocks move by the
    round-robin tournament, so nb − 1 rounds meet every block pair once; the
    first round rotates every pair inside the paired blocks (2b − 1 steps),
    the later ones only the b² pairs across them (b steps), so a sweep
    rotates every column pair exactly once, like the scalar cyclic method.
    Sweeps stop when the Gram matrix of W, formed afresh after a sweep, has
    every |cos∠(w_i, w_j)| ≤ 2·tol (tol = √m·eps; the 2 absorbs the rounding
    difference between the block and the full products), when a sweep
    rotated nothing, or after `max_sweeps`.
    """
    m, n = W.shape
    dtype = W.dtype
    b, nb = _block_shape(n)
    p = nb // 2
    if V0 is None:
        V0 = jnp.eye(n, dtype=dtype)
    tol = jnp.sqrt(jnp.asarray(m, dtype)) * jnp.finfo(dtype).eps
    eye = jnp.broadcast_to(jnp.eye(2 * b, dtype=dtype), (p, 2 * b, 2 * b))
    block_move = _block_tournament(p)

    def blocked(X):  # (rows, n) → (p, 2b, rows): its columns as rows, by pair
        X = jnp.pad(X.T, ((0, nb * b - n), (0, 0)))  # zero columns never rotate
        X = X.reshape(nb, b, X.shape[-1])
        return jnp.stack([X[:p], X[p:]], axis=1).reshape(p, 2 * b, X.shape[-1])

    def unblocked(X):
        X = X.reshape(p, 2, b, X.shape[-1])
        return jnp.concatenate([X[:, 0], X[:, 1]], axis=0).reshape(nb * b, X.shape[-1])[:n].T

    def move(X):  # the block tournament
        return X.reshape(2 * p, b, X.shape[-1])[block_move].reshape(p, 2 * b, X.shape[-1])

    def one_round(SW, SV, steps, seats):
        G = jnp.einsum("pik,pjk->pij", SW, SW, precision=_HIGHEST)
        G, Z = lax.fori_loop(0, steps, lambda _, gz: _rotate_pairs(*gz, tol, seats), (G, eye))
        SW = move(jnp.einsum("pij,pjk->pik", Z, SW, precision=_HIGHEST))
        SV = move(jnp.einsum("pij,pjk->pik", Z, SV, precision=_HIGHEST))
        return SW, SV, jnp.any(Z != eye)  # Z = I exactly iff nothing rotated

    def cross_round(_, carry):
        SW, SV, rotated = carry
        SW, SV, now = one_round(SW, SV, b, _cross_shift(b))
        return SW, SV, rotated | now

    def sweep(state):
        SW, SV, *_, count = state
        carry = one_round(SW, SV, 2 * b - 1, _tournament(b))
        SW, SV, rotated = lax.fori_loop(0, nb - 2, cross_round, carry)
        flat = SW.reshape(nb * b, m)
        off = _max_cosine(jnp.matmul(flat, flat.T, precision=_HIGHEST))
        return SW, SV, rotated, off, count + 1

    def not_done(state):
        *_, rotated, off, count = state
        return rotated & (off > 2.0 * tol) & (count < max_sweeps)

    # NaN input rotates nothing (comparisons with NaN are False) and its
    # cosines are NaN, so the loop stops after one sweep.
    init = (blocked(W), blocked(V0), jnp.asarray(True), jnp.asarray(jnp.inf, dtype),
            jnp.zeros((), jnp.int32))
    SW, SV, *_, count = lax.while_loop(not_done, sweep, init)
    # A full sweep (nb − 1 moves) restores the original seating.
    return unblocked(SW), unblocked(SV), count


def _column_norms(W: jax.Array) -> jax.Array:
    big = jnp.max(jnp.abs(W), axis=0, initial=0.0)
    safe = jnp.where(big > 0, big, 1.0)
    return big * jnp.sqrt(jnp.sum((W / safe) ** 2, axis=0))


def _orthonormal_completion(B: jax.Array, keep: jax.Array, cols: int) -> jax.Array:
    """Orthonormal (rows, cols) matrix whose first columns are B[:, keep].

    `B` (rows, k) has orthonormal columns where `keep` is True, which come
    first; the others (zero or noise) are replaced, and extra columns up to
    `cols` added, by the orthogonal complement from a Householder QR.
    """
    rows, k = B.shape
    B = jnp.where(keep[None, :], B, 0.0)
    B = jnp.pad(B, ((0, 0), (0, cols - k)))
    square = jnp.pad(B, ((0, 0), (0, rows - cols))) if rows > cols else B
    Q, R = jnp.linalg.qr(square, mode="complete")
    Q = Q[:, :cols]
    sign = jnp.where(jnp.diagonal(R)[:cols] < 0, -1.0, 1.0).astype(B.dtype)
    keep_all = jnp.pad(keep, (0, cols - k))
    # Where B's column was kept, Q·sign equals it up to rounding; use B itself.
    return jnp.where(keep_all[None, :], B, Q * sign[None, :])


def _normalized_columns(W: jax.Array, sigma: jax.Array, keep: jax.Array) -> jax.Array:
    """W Σ⁻¹ for the kept columns; negligible ones get an orthonormal completion."""
    B = W / jnp.where(keep, sigma, 1.0)[None, :]
    return lax.cond(jnp.all(keep) | ~jnp.all(jnp.isfinite(sigma)),
                    lambda B: B,
                    lambda B: _orthonormal_completion(B, keep, B.shape[1]), B)


def _eigenvector_preconditioner(R: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(Rᵀ V0, V0): V0 the eigenvectors of R Rᵀ (descending), or (Rᵀ, I).

    Rᵀ V0 has nearly orthogonal columns, so Jacobi on it needs one or two
    sweeps where Jacobi on Rᵀ needs about eight (Okša & Vajteršic's
    preconditioner for block Jacobi; the eigensolver is LAPACK's syevd).
    The eigenvectors are only accurate to ≈ eps·‖R‖²/gap and the product
    Rᵀ V0 carries a normwise (not columnwise) rounding error, so σ_i gets a
    relative error ≈ eps·σ_1/σ_i ≤ eps·κ(B)·spread for A = B D (D the column
    norms of A, which are those of R; spread = max D / min D), against
    ≈ eps·κ(B) for plain Jacobi (Demmel & Veselić). The preconditioner is
    therefore used only when the column norms are within `_GRADED_SPREAD` of
    each other; graded columns (and zero or non-finite ones) get V0 = I,
    i.e. plain Jacobi on Rᵀ with its relative accuracy.
    """
    norms = _column_norms(R)
    flat = jnp.min(norms) * _GRADED_SPREAD >= jnp.max(norms)  # False for NaN

    def preconditioned(R):
        _, E = jnp.linalg.eigh(jnp.matmul(R, R.T, precision=_HIGHEST))
        V0 = E[:, ::-1]
        return jnp.matmul(R.T, V0, precision=_HIGHEST), V0

    return lax.cond(flat, preconditioned, lambda R: (R.T, jnp.eye(R.shape[1], dtype=R.dtype)), R)


def _svd_tall(A: jax.Array, full_matrices: bool, max_sweeps: int,
              precondition: bool) -> SVDResult:
    """SVD of one (m, n) matrix with m >= n >= 1."""
    m, n = A.shape
    dtype = A.dtype
    big = jnp.max(jnp.abs(A), initial=0.0)
    finite_big = jnp.where(jnp.isfinite(big), big, 1.0)
    scale = jnp.where(finite_big > 0, finite_big, 1.0)
    As = A / scale
    if precondition:
        # A = Q R and Jacobi on Rᵀ V0: Rᵀ V = W, so R = V Σ (W Σ⁻¹)ᵀ and
        # A = (Q V) Σ (W Σ⁻¹)ᵀ: the rotations give U, normalized columns Vh.
        Q, R = jnp.linalg.qr(As, mode="reduced")
        W0, V0 = _eigenvector_preconditioner(R)
        W, V, _ = _jacobi_columns(W0, max_sweeps, V0)
    else:
        # A V = W, so A = (W Σ⁻¹) Σ Vᵀ: normalized columns give U.
        W, V, _ = _jacobi_columns(As, max_sweeps)
    sigma = _column_norms(W)
    order = jnp.argsort(-sigma)
    sigma = sigma[order]
    W, V = W[:, order], V[:, order]
    # Columns whose σ is negligible are noise: they are not normalized but
    # replaced by an orthonormal completion.
    keep = sigma > n * jnp.finfo(dtype).eps * sigma[0]
    if precondition:
        U = jnp.matmul(Q, V, precision=_HIGHEST)
        Vh = _normalized_columns(W, sigma, keep).T
    else:
        U = _normalized_columns(W, sigma, keep)
        Vh = V.T
    if full_matrices and m > n:
        U = _orthonormal_completion(U, jnp.ones((n,), bool), m)
    return SVDResult(U, sigma * scale, Vh)


def _svd_reduced(A: jax.Array, max_sweeps: int, precondition: bool) -> SVDResult:
    """Thin SVD of one (m, n) matrix, any orientation, min(m, n) >= 1."""
    m, n = A.shape
    if m >= n:
        return _svd_tall(A, False, max_sweeps, precondition)
    U, S, Vh = _svd_tall(A.T, False, max_sweeps, precondition)
    return SVDResult(Vh.T, S, U.T)


def _svd_jvp(max_sweeps, precondition, primals, tangents):
    """Perturbation of the thin SVD (distinct, non-zero σ), e.g. Townsend (2016).

    With dP = Uᵀ dA V: dσ = diag(dP); dU = U (F ∘ (dP Σ + Σ dPᵀ)) + (I − UUᵀ) dA V Σ⁻¹;
    dV = V (F ∘ (Σ dP + dPᵀ Σ)) + (I − VVᵀ) dAᵀ U Σ⁻¹, F_ij = 1/(σ_j² − σ_i²), F_ii = 0.
    """
    (A,), (dA,) = primals, tangents
    U, S, Vh = _svd_reduced(A, max_sweeps, precondition)
    V = Vh.T
    mm = lambda a, b: jnp.matmul(a, b, precision=_HIGHEST)  # noqa: E731
    dP = mm(mm(U.T, dA), V)
    dS = jnp.diagonal(dP)
    k = S.shape[0]
    eye = jnp.eye(k, dtype=S.dtype)
    diff = (S[None, :] - S[:, None]) * (S[None, :] + S[:, None])
    F = jnp.where(eye > 0, 0.0, 1.0 / jnp.where(eye > 0, 1.0, diff))
    dU = mm(U, F * (dP * S[None, :] + S[:, None] * dP.T))
    dV = mm(V, F * (S[:, None] * dP + dP.T * S[None, :]))
    s_inv = jnp.where(S > 0, 1.0 / jnp.where(S > 0, S, 1.0), 0.0)
    m, n = A.shape
    if m > k:
        dAV = mm(dA, V)
        dU = dU + (dAV - mm(U, mm(U.T, dAV))) * s_inv[None, :]
    if n > k:
        dAtU = mm(dA.T, U)
        dV = dV + (dAtU - mm(V, mm(V.T, dAtU))) * s_inv[None, :]
    return SVDResult(U, S, Vh), SVDResult(dU, dS, dV.T)


_svd_reduced_jvp = jax.custom_jvp(_svd_reduced, nondiff_argnums=(1, 2))
_svd_reduced_jvp.defjvp(_svd_jvp)


def _svd_single(A: jax.Array, full_matrices: bool, max_sweeps: int,
                precondition: bool) -> SVDResult:
    m, n = A.shape
    if not full_matrices or m == n:
        return _svd_reduced_jvp(A, max_sweeps, precondition)
    if m > n:
        return _svd_tall(A, True, max_sweeps, precondition)
    U, S, Vh = _svd_tall(A.T, True, max_sweeps, precondition)
    return SVDResult(Vh.T, S, U.T)


def svd(A: jax.Array, *, full_matrices: bool = False, max_sweeps: int = 30,
        precondition: bool = True) -> SVDResult:
    """Singular value decomposition A = U diag(S) Vh by one-sided Jacobi.

    QR-preconditioned block one-sided Jacobi (see the module docstring):
    sweeps of round-robin block rotations inside `lax.while_loop`, stopping
    when every column pair has |cos∠| ≤ 2·√m·eps or after `max_sweeps`.
    Jacobi computes small singular values to high *relative* accuracy on
    graded matrices (Demmel & Veselić 1992), which bidiagonalization-based
    SVDs do not guarantee.

    Args:
      A: real matrix or batch of matrices, shape (..., m, n); integers promote.
      full_matrices: if True, U is (..., m, m) and Vh is (..., n, n) (the
        extra vectors complete an orthonormal basis); else k = min(m, n)
        columns/rows. Gradients are supported only for False.
      max_sweeps: static bound on the number of Jacobi sweeps (with the
        default preconditioning a well-conditioned matrix needs one or two,
        an ill-conditioned or graded one up to about ten for n ≤ 256;
        convergence is ultimately quadratic). If it is hit, the current
        iterate is returned: A = UΣVh still holds to rounding, only the
        orthogonality of the normalized side degrades (`SVDResult` has no
        `converged` field by contract).
      precondition: static; QR-precondition (Jacobi on Rᵀ of A = QR, started
        from the eigenvectors of R Rᵀ unless A's columns are graded; U from
        accumulated rotations). False runs plain Jacobi on A itself (U from
        normalized columns), which needs several times more sweeps.

    Returns:
      `SVDResult(U, S, Vh)` like `jnp.linalg.svd(A, full_matrices=...)`:
      S descending and non-negative. For rank-deficient A the singular
      vectors of σ ≤ min(m, n)·eps·σ_max are an orthonormal completion, so U
      and Vh stay orthonormal (and finite) even for A = 0. NaN/inf input gives
      NaN output (the loop stops after one sweep).

    Complexity: O(m n²) for the QR, O(n³) for the preconditioner and about
    12 n³ flops of batched matmuls per sweep; O(mn + n²) memory.

    Differences: `jnp.linalg.svd` returns a tuple (U, S, Vh) from LAPACK's
    divide-and-conquer; this returns the same arrays in a NamedTuple. Signs
    of singular vector pairs may differ. Complex input is not supported.
    """
    A = _validate.as_float_array(A, "A", allow_complex=False)
    _validate.check_matrix(A, "A")
    if not isinstance(full_matrices, (bool, np.bool_)):
        raise TypeError(f"`full_matrices` must be a bool; got {type(full_matrices).__name__}.")
    max_sweeps = _validate.check_positive_int(max_sweeps, "max_sweeps")
    if not isinstance(precondition, (bool, np.bool_)):
        raise TypeError(f"`precondition` must be a bool; got {type(precondition).__name__}.")
    *batch, m, n = A.shape
    k = min(m, n)
    if k == 0:
        u_cols, v_rows = (m, n) if full_matrices else (0, 0)
        U = jnp.broadcast_to(jnp.eye(m, u_cols, dtype=A.dtype), (*batch, m, u_cols))
        Vh = jnp.broadcast_to(jnp.eye(v_rows, n, dtype=A.dtype), (*batch, v_rows, n))
        return SVDResult(U, jnp.zeros((*batch, 0), A.dtype), Vh)
    return _svd_batched(A, bool(full_matrices), max_sweeps, bool(precondition))


@functools.partial(jax.jit, static_argnames=("full_matrices", "max_sweeps", "precondition"))
def _svd_batched(A: jax.Array, full_matrices: bool, max_sweeps: int,
                 precondition: bool) -> SVDResult:
    # Jitted once per shape, so eager calls do not re-trace the loops.
    fn = lambda a: tuple(_svd_single(a, full_matrices, max_sweeps, precondition))  # noqa: E731
    U, S, Vh = jnp.vectorize(fn, signature="(m,n)->(m,p),(k),(q,n)")(A)
    return SVDResult(U, S, Vh)
