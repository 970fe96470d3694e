"""Shifted Cholesky QR of short, wide row blocks (l, N), l << N: the tall-skinny kernels
of `jaxla.randomized`.

The randomized range finder and SVD keep their (k + p)-column sketches as
(l, N) row blocks. LAPACK's LU/QR/SVD of such a block is cheap in flops but,
on CPU, runs OpenBLAS threads that compete with XLA's own thread pool for the
cores (with them between its products, `randomized_svd` ran at ~2.5× the time
of the products alone). Here everything O(N l²) is an XLA product and LAPACK
only sees l×l matrices (Cholesky, SVD; triangular solves <= 32×32), except in
the Householder / tall-SVD fallbacks for numerically rank-deficient blocks.

Reference: T. Fukaya, R. Kannan, Y. Nakatsukasa, Y. Yamamoto, Y. Yanagisawa,
"Shifted Cholesky QR for computing the QR factorization of ill-conditioned
matrices", SIAM J. Sci. Comput. 42 (2020); Y. Yamamoto et al., "Roundoff error
analysis of the CholeskyQR2 algorithm", ETNA 44 (2015).

All functions take leading batch dimensions; their decisions (second pass,
fallback) are one `lax.cond` for the whole batch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

_HIGHEST = lax.Precision.HIGHEST
_TRI_BLOCK = 32   # triangular inverses are recursive down to this size


def mT(x: jax.Array) -> jax.Array:
    """Transpose of the last two axes."""
    return jnp.swapaxes(x, -1, -2)


def mm(a: jax.Array, b: jax.Array) -> jax.Array:
    """Batched matrix product at HIGHEST precision."""
    return jnp.matmul(a, b, precision=_HIGHEST)


def _eye_like(x: jax.Array) -> jax.Array:
    return jnp.broadcast_to(jnp.eye(x.shape[-1], dtype=x.dtype), x.shape)


def triangular_inverse(R: jax.Array) -> jax.Array:
    """R⁻¹ of upper-triangular (..., l, l) R by static 2×2 block recursion.

    LAPACK's trsm is only used on blocks <= 32: from about 32×32 on, OpenBLAS
    runs it threaded (module docstring).
    """
    l = R.shape[-1]
    if l <= _TRI_BLOCK:
        return lax.linalg.triangular_solve(R, _eye_like(R), left_side=True, lower=False)
    h = l // 2
    Ai, Ci = triangular_inverse(R[..., :h, :h]), triangular_inverse(R[..., h:, h:])
    top = jnp.concatenate([Ai, -mm(Ai, mm(R[..., :h, h:], Ci))], axis=-1)
    bottom = jnp.concatenate([jnp.zeros((*R.shape[:-2], l - h, h), R.dtype), Ci], axis=-1)
    return jnp.concatenate([top, bottom], axis=-2)


def cholesky_qr_pass(Y: jax.Array, shift: float, rescale: bool = True):
    """Y (..., l, N) = Rᵀ Q with RᵀR = Y Yᵀ + s·I: one (shifted) Cholesky-QR pass on the rows.

    s = `shift`·eps·tr(Y Yᵀ). When that Cholesky factorization breaks down (Y
    numerically rank deficient), the pass uses s = (N + l(l+1) + 2)·eps·tr, a
    shift that bounds the rounding error of the Gram matrix and so always
    succeeds (Fukaya, Kannan, Nakatsukasa, Yamamoto & Yanagisawa, SISC 42
    (2020)); the rows of Q then have norms ≤ 1 instead of exactly 1. With
    `rescale`, a Gram matrix that over- or underflowed is redone with Y scaled
    by a power of two. Returns (Q, R, ok, well) with per-matrix flags: ok = the
    small shift sufficed; well = also eps·κ_F(R)² < 0.1, which bounds both the
    shift's effect (s/λ_min ≤ eps·‖R‖_F²‖R⁻¹‖_F²) and the rounding (≈ eps·κ₂²)
    on QQᵀ − I, so Q is already a well-conditioned basis (κ(Q) ≲ 1.2).
    """
    l, N = Y.shape[-2:]
    G = mm(Y, mT(Y))                         # `jnp.linalg.cholesky` symmetrizes it
    scale = jnp.ones((*Y.shape[:-2], 1, 1), Y.dtype)
    finfo = jnp.finfo(Y.dtype)
    if rescale:
        trace = jnp.trace(G, axis1=-2, axis2=-1)
        bad = jnp.any(~(trace < jnp.inf) | (trace < finfo.tiny / finfo.eps))

        def rescaled():
            amax = jnp.max(jnp.abs(Y), axis=(-2, -1), keepdims=True)
            scale = jnp.exp2(jnp.round(jnp.log2(jnp.where(amax > 0, amax, 1))))
            return Y / scale, mm(Y / scale, mT(Y / scale)), scale

        Y, G, scale = lax.cond(bad, rescaled, lambda: (Y, G, scale))
    eye = _eye_like(G)
    trace = jnp.trace(G, axis1=-2, axis2=-1)[..., None, None]
    small = shift * finfo.eps * trace + finfo.tiny
    check = jnp.linalg.cholesky(lax.stop_gradient(G) + small * eye)
    ok = jnp.all(jnp.isfinite(check), axis=(-2, -1))
    s = jnp.where(ok[..., None, None], small, (N + l * (l + 1) + 2) * finfo.eps * trace
                  + finfo.tiny)
    R = jnp.linalg.cholesky(G + s * eye, upper=True)
    Rinv = triangular_inverse(R)
    kappa2 = jnp.sum(R * R, axis=(-2, -1)) * jnp.sum(Rinv * Rinv, axis=(-2, -1))
    well = ok & (finfo.eps * kappa2 < 0.1)
    return mm(mT(Rinv), Y), R * scale, ok, well


def well_conditioned_rows(Y: jax.Array) -> jax.Array:
    """A well-conditioned basis (rows) of the row space of Y: shifted Cholesky QR(2).

    Same span as the P·L of scikit-learn's LU normalizer, which only needs to
    keep the weaker directions from being swamped by the dominant ones. One
    pass suffices when Y is well conditioned; otherwise a second pass brings
    every direction above ≈ eps·‖Y‖ to norm ≈ 1.
    """
    Q, _, _, well = cholesky_qr_pass(Y, 1.0)
    return lax.cond(jnp.all(well), lambda: Q, lambda: cholesky_qr_pass(Q, 1.0, False)[0])


def orthonormal_rows(Y: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Y = Rᵀ Q with orthonormal rows of Q where `ok`: shifted Cholesky QR(2 or 3).

    `well_conditioned_rows`, then an unshifted pass; ok (per matrix) says its
    factor is ≈ I, i.e. Q is orthonormal to working precision. It is False when
    Y is numerically rank deficient (or not finite): then no Cholesky-based
    method can complete the basis, and the callers fall back to Householder QR.
    """
    Q1, R1, _, well = cholesky_qr_pass(Y, 1.0)
    eye = _eye_like(R1)
    Q2, R2 = lax.cond(jnp.all(well), lambda: (Q1, eye),
                      lambda: cholesky_qr_pass(Q1, 1.0, False)[:2])
    Q, R3, ok, _ = cholesky_qr_pass(Q2, 0.0, False)
    ok &= jnp.all(jnp.abs(R3 - eye) < 1e-2, axis=(-2, -1))
    return Q, mm(R3, mm(R2, R1)), ok


def householder_rows(Y: jax.Array) -> jax.Array:
    """Orthonormal rows spanning Y's row space by LAPACK's Householder QR of Yᵀ."""
    return mT(jnp.linalg.qr(mT(Y))[0])


def orthonormalize_rows(Y: jax.Array) -> jax.Array:
    """Orthonormal rows spanning Y's row space: Cholesky QR, Householder where it fails."""
    Q, _, ok = orthonormal_rows(Y)
    return lax.cond(jnp.all(ok), lambda: Q, lambda: householder_rows(Y))


def wide_svd(B: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """SVD B = P diag(S) Vh of a wide (..., l, n) B, reduced (P: l×l, Vh: l×n).

    B = Rᵀ Q by `orthonormal_rows`, then LAPACK's QR-iteration SVD of the l×l Rᵀ
    (its divide-and-conquer SVD runs OpenBLAS threads even at 60×60). Where Q
    is not orthonormal, LAPACK's SVD of the tall Bᵀ.
    """
    Q, R, ok = orthonormal_rows(B)

    def via_cholesky_qr():
        P, S, Th = lax.linalg.svd(mT(R), full_matrices=False,
                                  algorithm=lax.linalg.SvdAlgorithm.QR)
        return P, S, mm(Th, Q)

    def via_lapack():   # LAPACK on the tall Bᵀ: on the wide B it rounds worse
        W, S, Zh = jnp.linalg.svd(mT(B), full_matrices=False)
        return mT(Zh), S, mT(W)

    return lax.cond(jnp.all(ok), via_cholesky_qr, via_lapack)
