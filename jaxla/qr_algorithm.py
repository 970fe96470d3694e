"""The shifted QR algorithm: symmetric eigh, general eigenvalues and real Schur form.

- `eigh_qr`: Householder tridiagonalization (blocked, LAPACK sytrd-style),
  then implicit symmetric QR steps with Wilkinson shifts (Givens bulge
  chasing), deflation of negligible off-diagonals, eigenvectors accumulated
  (rotations applied to the rows of W in wavefronts of several sweeps, then
  back-transformed by the Householder Q in compact WY form).
- `eigvals_qr` / `schur`: Householder reduction to upper Hessenberg form, then
  Francis implicit double-shift QR steps with deflation; 2×2 blocks with real
  eigenvalues are split, so the diagonal blocks that remain carry complex
  conjugate pairs.

Compile-time structure: every loop is a `lax.fori_loop` over positions or a
`lax.while_loop` over sweeps with fixed-shape state, so the traced program has
the same size for every n. `eigh_qr` works on a whole batch at once and
processes *all* unreduced diagonal blocks in one sweep (each block gets its
own Wilkinson shift and bulge), so a batch runs as dense vector code with one
loop index; a sweep only scans the shortest of a few static windows that
covers the unreduced blocks.

Differences from LAPACK/NumPy: no balancing in `eigvals_qr`/`schur`; 2×2
blocks of the Schur form are not normalized to LAPACK's standard form (equal
diagonals); eigenvalues from `eigvals_qr` come in the order of the Schur
diagonal (not sorted); when the iteration does not converge within
`max_iters` the outputs are NaN (LAPACK reports `info > 0`).

References: Golub & Van Loan, Matrix Computations (4th ed.), §5.1 (Householder
and Givens), §7.4-7.5 (Hessenberg, Francis QR step, Algorithm 7.5.2), §8.3
(tridiagonalization, implicit symmetric QR step with Wilkinson shift,
Algorithms 8.3.2-8.3.3); Wilkinson (1968) on the global convergence of the
Wilkinson shift; LAPACK dlahqr for the exceptional shift.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxla import _validate
from jaxla._tridiagonal_qr import _eigh_qr_stack
from jaxla.eigen import EighResult

_HIGHEST = lax.Precision.HIGHEST


def _mm(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.matmul(a, b, precision=_HIGHEST)


def _default_iters(max_iters, n: int) -> int:
    if max_iters is None:
        return 30 * max(n, 2)
    return _validate.check_positive_int(max_iters, "max_iters")


def _householder(x: jax.Array):
    """(v, β) with (I − β v vᵀ) x = −sign(x₀)‖x‖ e₀; β = 0 when x = 0."""
    normx = jnp.sqrt(jnp.sum(x * x))
    sign = jnp.where(x[0] >= 0, 1.0, -1.0).astype(x.dtype)
    v = x.at[0].add(sign * normx)
    vtv = jnp.sum(v * v)
    beta = jnp.where(vtv > 0, 2.0 / jnp.where(vtv > 0, vtv, 1.0), 0.0)
    return v, beta


def _max_abs_scale(A: jax.Array) -> jax.Array:
    s = jnp.max(jnp.abs(A))
    return jnp.where((s > 0) & jnp.isfinite(s), s, 1.0)


# ------------------------------------------------------ symmetric: eigh_qr

def eigh_qr(A: jax.Array, *, max_iters: int | None = None) -> EighResult:
    """Eigen-decomposition of a symmetric matrix by the implicit QR algorithm.

    A = Q T Qᵀ (Householder, T tridiagonal), then T ← GᵀTG by implicit QR
    steps with the Wilkinson shift (the eigenvalue of the trailing 2×2 of each
    unreduced block closest to its last diagonal entry), chasing the bulge with
    Givens rotations; off-diagonals with |e_k| <= eps(|d_k| + |d_{k+1}|) are
    set to zero (deflation). Eigenvectors are Q times the product of all
    rotations: the rotations of S consecutive sweeps are applied to the rows
    of W together, as a wavefront of n + 2S vector steps, and Q (kept as
    compact-WY panels) is applied to Wᵀ with matmuls. Cost: (4/3)n³ for the
    reduction (half of it in rank-2·nb matmul updates), O(n) scalar steps and
    O(n²) rotation work per sweep, typically ~1.5 sweeps per eigenvalue,
    2n³ for the back-transformation. The input is scaled by max|Aᵢⱼ| and
    symmetrized ((A + Aᵀ)/2, like `jnp.linalg.eigh`'s default).

    Args:
      A: symmetric (..., n, n).
      max_iters: static bound on QR sweeps (default 30·n). If a matrix is not
        diagonalized within it, its eigenvalues and vectors are NaN.

    Returns:
      `EighResult`, eigenvalues ascending, eigenvectors as columns. A matrix
      with NaN/inf entries gives NaN output (it is not iterated). A batch runs
      as one set of loops over all its matrices (and `jax.vmap` maps onto
      that batch). Differentiable through a custom JVP (the standard eigh
      derivative), not through the loop.

    References: Golub & Van Loan (4th ed.) Algorithms 8.3.1-8.3.3; LAPACK
    dsytrd/dlatrd (blocked reduction); Schreiber & Van Loan (1989) (compact
    WY); Van Zee, van de Geijn & Quintana-Ortí (2014), "Restructuring the
    tridiagonal and bidiagonal QR algorithms for performance" (wavefront
    application of several sweeps' rotations).
    """
    A = _validate.real_square(A, "A")
    max_iters = _default_iters(max_iters, A.shape[-1])
    return EighResult(*_eigh_qr_differentiable(max_iters, A))


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _eigh_qr_differentiable(max_iters, A):
    return _eigh_qr_vmappable(max_iters)(A)


@functools.cache
def _eigh_qr_vmappable(max_iters: int):
    """`_eigh_qr_batched` whose `vmap` is the native batch (a leading axis), not
    the generic batching of its loops (which runs every branch and iteration
    for all members and is several times slower)."""
    @jax.custom_batching.custom_vmap
    def fn(A):
        return _eigh_qr_batched(A, max_iters)

    @fn.def_vmap
    def _(axis_size, in_batched, A):
        del axis_size
        return fn(A), (in_batched[0], in_batched[0])

    return fn


@_eigh_qr_differentiable.defjvp
def _eigh_qr_jvp(max_iters, primals, tangents):
    """Eigen-decomposition derivative (the while loop itself is not differentiable):
    dλᵢ = vᵢᵀ dA vᵢ, dV = V (F ∘ VᵀdA V) with F_ij = 1/(λⱼ − λᵢ), i ≠ j
    (Magnus 1985; the same rule as `jnp.linalg.eigh`). Undefined for repeated
    eigenvalues: those entries of F are set to 0."""
    (A,), (dA,) = primals, tangents
    w, V = _eigh_qr_differentiable(max_iters, A)
    dA = 0.5 * (dA + jnp.swapaxes(dA, -1, -2))  # the input is symmetrized
    M = _mm(jnp.swapaxes(V, -1, -2), _mm(dA, V))
    gap = w[..., None, :] - w[..., :, None]
    # Mask the diagonal explicitly: under jit XLA may recompute w inside two
    # fusions with different roundings, so w_i - w_i need not be exactly 0.
    off = (gap != 0) & ~jnp.eye(w.shape[-1], dtype=bool)
    F = jnp.where(off, 1.0 / jnp.where(off, gap, 1.0), 0.0)
    return (w, V), (jnp.diagonal(M, axis1=-2, axis2=-1), _mm(V, F * M))


@functools.partial(jax.jit, static_argnums=1)
def _eigh_qr_batched(A, max_iters):
    n = A.shape[-1]
    if A.size == 0:  # empty batch (or 0×0): nothing to compute
        return jnp.zeros(A.shape[:-1], A.dtype), jnp.zeros(A.shape, A.dtype)
    w, V = _eigh_qr_stack(A.reshape((-1, n, n)), max_iters)
    return w.reshape(A.shape[:-1]), V.reshape(A.shape)


# ------------------------------------------------- general: Francis QR / Schur
def _hessenberg(A: jax.Array):
    """A = Z H Zᵀ with H upper Hessenberg; returns (H, Z). GVL Algorithm 7.4.2."""
    n = A.shape[-1]
    idx = jnp.arange(n)

    def step(k, carry):
        H, Z = carry
        col = lax.dynamic_index_in_dim(H, k, axis=1, keepdims=False)
        x = jnp.where(idx > k, col, 0.0)
        vr, beta = _householder(jnp.roll(x, -(k + 1)))
        v = jnp.roll(vr, k + 1) * (idx > k)
        H = H - beta * jnp.outer(v, _mm(v, H))
        H = H - beta * jnp.outer(_mm(H, v), v)
        Z = Z - beta * jnp.outer(_mm(Z, v), v)
        return H, Z

    H, Z = lax.fori_loop(0, max(n - 2, 0), step, (A, jnp.eye(n, dtype=A.dtype)))
    return jnp.triu(H, -1), Z


def _francis_step(H, Z, lo, hi, its):
    """One implicit double-shift step on the active block H[lo:hi+1, lo:hi+1].

    H is padded to (n+1, n+1) and Z to (n, n+1) so 3-row slices never clamp.
    Reflectors are applied to full rows/columns so the Schur form stays exact.
    """
    def at(i, j):
        return H[jnp.maximum(i, 0), jnp.maximum(j, 0)]

    exceptional = (its > 0) & (its % 10 == 0)
    s_ex = jnp.abs(at(hi, hi - 1)) + jnp.abs(at(hi - 1, hi - 2))
    h11 = jnp.where(exceptional, 0.75 * s_ex + at(hi, hi), at(hi - 1, hi - 1))
    h12 = jnp.where(exceptional, -0.4375 * s_ex, at(hi - 1, hi))
    h21 = jnp.where(exceptional, s_ex, at(hi, hi - 1))
    h22 = jnp.where(exceptional, h11, at(hi, hi))
    tr, det = h11 + h22, h11 * h22 - h12 * h21
    a11, a12, a21 = at(lo, lo), at(lo, lo + 1), at(lo + 1, lo)
    a22, a32 = at(lo + 1, lo + 1), at(lo + 2, lo + 1)
    first = jnp.stack([a11 * a11 + a12 * a21 - tr * a11 + det,
                       a21 * (a11 + a22 - tr), a21 * a32])

    def chase(k, carry):
        H, Z = carry
        col = lax.dynamic_slice(H, (k, jnp.maximum(k - 1, 0)), (3, 1))[:, 0]
        u = jnp.where(k == lo, first, col)
        u = u.at[2].multiply(jnp.where(k + 1 < hi, 1.0, 0.0))
        v, beta = _householder(u)
        rows = lax.dynamic_slice_in_dim(H, k, 3, axis=0)
        H = lax.dynamic_update_slice_in_dim(H, rows - beta * jnp.outer(v, _mm(v, rows)), k, 0)
        cols = lax.dynamic_slice_in_dim(H, k, 3, axis=1)
        H = lax.dynamic_update_slice_in_dim(H, cols - beta * jnp.outer(_mm(cols, v), v), k, 1)
        zc = lax.dynamic_slice_in_dim(Z, k, 3, axis=1)
        Z = lax.dynamic_update_slice_in_dim(Z, zc - beta * jnp.outer(_mm(zc, v), v), k, 1)
        return H, Z

    H, Z = lax.fori_loop(lo, hi, chase, (H, Z))
    return jnp.triu(H, -1), Z


def _split_2x2(H, Z, p):
    """Triangularize the 2×2 block at (p, p+1) when its eigenvalues are real."""
    a, b = H[p, p], H[p, p + 1]
    c, d = H[p + 1, p], H[p + 1, p + 1]
    half = 0.5 * (a - d)
    disc = half * half + b * c
    real = disc >= 0
    lam = d + half + jnp.where(half >= 0, 1.0, -1.0) * jnp.sqrt(jnp.where(real, disc, 0.0))
    x, y = lam - d, c
    r = jnp.hypot(x, y)
    ok = real & (r > 0)
    cs = jnp.where(ok, x / jnp.where(ok, r, 1.0), 1.0)
    sn = jnp.where(ok, y / jnp.where(ok, r, 1.0), 0.0)
    G = jnp.stack([jnp.stack([cs, -sn]), jnp.stack([sn, cs])])  # first column (cs, sn)
    rows = lax.dynamic_slice_in_dim(H, p, 2, axis=0)
    H = lax.dynamic_update_slice_in_dim(H, _mm(G.T, rows), p, 0)
    cols = lax.dynamic_slice_in_dim(H, p, 2, axis=1)
    H = lax.dynamic_update_slice_in_dim(H, _mm(cols, G), p, 1)
    zc = lax.dynamic_slice_in_dim(Z, p, 2, axis=1)
    Z = lax.dynamic_update_slice_in_dim(Z, _mm(zc, G), p, 1)
    H = H.at[p + 1, p].set(jnp.where(ok, 0.0, H[p + 1, p]))
    return H, Z


def _schur_single(A: jax.Array, max_iters: int):
    n = A.shape[-1]
    dtype = A.dtype
    if n == 1:  # static special case: already triangular
        return A, jnp.where(jnp.isfinite(A), 1.0, jnp.nan).astype(dtype)
    scale = _max_abs_scale(A)
    H, Z = _hessenberg(A / scale)
    H = jnp.pad(H, ((0, 1), (0, 1)))
    Z = jnp.pad(Z, ((0, 0), (0, 1)))
    idx = jnp.arange(n, dtype=jnp.int32)
    eps, tiny = jnp.finfo(dtype).eps, jnp.finfo(dtype).tiny

    def cond(state):
        it, hi, _, H, _ = state
        return (it < max_iters) & (hi >= 0) & jnp.all(jnp.isfinite(H))

    def body(state):
        it, hi, its, H, Z = state
        dg = jnp.diagonal(H)[:n]
        sub = jnp.diagonal(H, -1)[: n - 1]
        sub = jnp.where(jnp.abs(sub) <= eps * (jnp.abs(dg[:-1]) + jnp.abs(dg[1:])) + tiny,
                        0.0, sub)
        H = H.at[idx[1:], idx[:-1]].set(sub)
        split = jnp.concatenate([jnp.ones((1,), bool), sub == 0])  # block may start at l
        lo = jnp.max(jnp.where(split & (idx <= hi), idx, 0)).astype(jnp.int32)
        size = hi - lo + 1

        def one(H, Z):
            return H, Z, hi - 1, jnp.int32(0)

        def two(H, Z):
            H, Z = _split_2x2(H, Z, jnp.maximum(lo, 0))
            return H, Z, hi - 2, jnp.int32(0)

        def francis(H, Z):
            H, Z = _francis_step(H, Z, lo, hi, its)
            return H, Z, hi, its + 1

        branch = jnp.clip(size - 1, 0, 2)
        H, Z, hi, its = lax.switch(branch, (one, two, francis), H, Z)
        return it + 1, hi, its, H, Z

    init = (jnp.int32(0), jnp.int32(n - 1), jnp.int32(0), H, Z)
    _, hi, _, H, Z = lax.while_loop(cond, body, init)
    ok = (hi < 0) & jnp.all(jnp.isfinite(H))
    T = jnp.where(ok, H[:n, :n] * scale, jnp.nan)
    return T, jnp.where(ok, Z[:, :n], jnp.nan)


def _quasi_triangular_eigvals(T: jax.Array) -> jax.Array:
    """Eigenvalues of a real quasi-triangular T (1×1 and complex 2×2 blocks)."""
    n = T.shape[-1]
    cdtype = jnp.result_type(T.dtype, jnp.complex64)
    dg = jnp.diagonal(T)
    if n == 1:
        return dg.astype(cdtype)
    sub = jnp.diagonal(T, -1)
    a, d = dg[:-1], dg[1:]
    b = jnp.diagonal(T, 1)
    mean = 0.5 * (a + d)
    disc = (0.5 * (a - d)) ** 2 + b * sub
    im = jnp.sqrt(jnp.maximum(-disc, 0.0))
    pair = sub != 0
    first = jnp.concatenate([pair, jnp.zeros((1,), bool)])
    second = jnp.concatenate([jnp.zeros((1,), bool), pair])
    mean_f = jnp.concatenate([mean, dg[-1:]])
    mean_s = jnp.concatenate([dg[:1], mean])
    im_f = jnp.concatenate([im, jnp.zeros((1,), T.dtype)])
    im_s = jnp.concatenate([jnp.zeros((1,), T.dtype), im])
    re = jnp.where(first, mean_f, jnp.where(second, mean_s, dg))
    imag = jnp.where(first, im_f, jnp.where(second, -im_s, 0.0))
    return lax.complex(re, imag).astype(cdtype)


class SchurResult(NamedTuple):
    """Real Schur decomposition A = Z T Zᵀ.

    Attributes:
      T: (..., n, n) upper quasi-triangular: 1×1 blocks (real eigenvalues) and
        2×2 blocks (complex-conjugate pairs) on the diagonal.
      Z: (..., n, n) orthogonal.
    """

    T: jax.Array
    Z: jax.Array


def schur(A: jax.Array, *, max_iters: int | None = None) -> SchurResult:
    """Real Schur form A = Z T Zᵀ by Hessenberg reduction and Francis double-shift QR.

    Each step applies (H − μ₁I)(H − μ₂I) implicitly (μ₁,₂ the eigenvalues of the
    trailing 2×2 of the active block, so complex pairs need no complex
    arithmetic) by chasing a 3×3 Householder bulge; subdiagonals with
    |h_{k+1,k}| <= eps(|h_kk| + |h_{k+1,k+1}|) are zeroed; an exceptional shift
    every 10 steps without deflation breaks cycles. Isolated 2×2 blocks with
    real eigenvalues are triangularized by a rotation. Cost: 10n³ for the
    reduction and ~10n³ (+ Z) for the iteration.

    Args:
      A: real (..., n, n).
      max_iters: static bound on loop steps (Francis steps plus deflations;
        default 30·n). Without convergence, T and Z are NaN.

    Returns:
      `SchurResult(T, Z)` (a tuple, so `T, Z = schur(A)` works). Not
      reverse-differentiable (the iteration is a `while_loop` and the Schur
      form is not unique); `jit` and `vmap` work.

    Reference: Golub & Van Loan (4th ed.) §7.5, Algorithm 7.5.2.
    """
    A = _validate.real_square(A, "A")
    max_iters = _default_iters(max_iters, A.shape[-1])
    return SchurResult(*_schur_batched(A, max_iters))


@functools.partial(jax.jit, static_argnums=1)
def _schur_batched(A, max_iters):
    return jnp.vectorize(lambda a: _schur_single(a, max_iters),
                         signature="(n,n)->(n,n),(n,n)")(A)


def eigvals_qr(A: jax.Array, *, max_iters: int | None = None) -> jax.Array:
    """Eigenvalues of a real general matrix by the Francis double-shift QR algorithm.

    Computes the real Schur form (see `schur`; Z is formed and discarded) and
    reads eigenvalues off its 1×1 and 2×2 diagonal blocks; a 2×2 block
    [[a, b], [c, d]] gives (a + d)/2 ± i·sqrt(−((a − d)²/4 + bc)).

    Args:
      A: real (..., n, n).
      max_iters: as in `schur`.

    Returns:
      complex (..., n) eigenvalues (complex64 for float32 input), in the order
      of the Schur diagonal; conjugate pairs are adjacent, + imaginary part
      first. Unlike `jnp.linalg.eigvals` there is no balancing. NaN when the
      iteration did not converge. Not reverse-differentiable (see `schur`).

    Reference: Golub & Van Loan (4th ed.) §7.5.
    """
    T = schur(A, max_iters=max_iters).T
    return jnp.vectorize(_quasi_triangular_eigvals, signature="(n,n)->(n)")(T)
