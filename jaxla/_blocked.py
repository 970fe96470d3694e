"""Blocked, fixed-shape kernels behind `jaxla.factorizations` and `jaxla.solvers`.

Everything here works on ONE matrix (callers add batch dimensions with
`jnp.vectorize`) whose size and block size are static. The loops over block
columns are `lax.fori_loop`s: every iteration sees the same shapes, and the
part of the matrix a block step must not touch is masked out instead of being
sliced away. Masking a full n×n trailing update would cost ~3x the flops of
LAPACK, so the block loop is split into `_NUM_PHASES` consecutive loops, each
working on a *static* trailing window `A[s:, s:]` that starts at the first
block of its phase. The jaxpr therefore holds a fixed number of loops, however
large `n` is (compile time does not grow with `n`), and the wasted work drops
to ~1.4x (4 phases).

Inside a block (size `nb`, static) the small dense problems -- the diagonal
Cholesky block, the inverse of a triangular diagonal block, the LU of a tall
panel -- are split recursively in halves (a Python recursion over the static
block size, depth log2(nb)), down to leaves of `_LEAF` columns handled by a
`fori_loop`. This is the recursive formulation of Gustavson (1997) and
Toledo (1997): matmul-rich, with few scalar steps.

Triangular solves against a diagonal block multiply by its inverse (computed
by the recursive partitioned inverse, LAPACK xTRTRI's algorithm); this is the
"inversion-based TRSM" used by GPU BLAS libraries. Its error bound carries a
factor cond(T_kk) of the *diagonal block* only, which for Cholesky factors and
partially pivoted L factors stays modest; the zoo tests check the LAPACK
residual criterion on matrices with condition numbers up to 1e12.

References:
  F. G. Gustavson, Recursion leads to automatic variable blocking for dense
    linear-algebra algorithms, IBM J. Res. Dev. 41 (1997).
  S. Toledo, Locality of reference in LU decomposition with partial pivoting,
    SIMAX 18 (1997).
  R. Schreiber & C. Van Loan, A storage-efficient WY representation for
    products of Householder transformations, SISSC 10 (1989).
  Golub & Van Loan, Matrix Computations (4th ed.), sections 3.2, 4.2, 5.2.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

_HIGHEST = lax.Precision.HIGHEST
_LEAF = 16  # columns handled by a scalar fori_loop at the bottom of a recursion
_NUM_PHASES = 4  # static trailing windows per blocked factorization


def mm(a: jax.Array, b: jax.Array) -> jax.Array:
    """Matrix product at HIGHEST precision (no TF32/bf16 passes on accelerators)."""
    return jnp.matmul(a, b, precision=_HIGHEST)


def phases(num_blocks: int) -> list[tuple[int, int]]:
    """Split block indices 0..num_blocks-1 into <= _NUM_PHASES contiguous ranges."""
    bounds = sorted({(p * num_blocks) // _NUM_PHASES for p in range(_NUM_PHASES)}
                    | {num_blocks})
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def pad_identity(A: jax.Array, size: int) -> jax.Array:
    """Embed the square A in the top-left corner of a size×size identity."""
    n = A.shape[-1]
    if size == n:
        return A
    out = jnp.eye(size, dtype=A.dtype)
    return out.at[:n, :n].set(A)


def column(X: jax.Array, j) -> jax.Array:
    return lax.dynamic_index_in_dim(X, j, axis=1, keepdims=False)


# --------------------------------------------------------------- triangular
def _tri_inv_leaf(T: jax.Array, unit: bool) -> jax.Array:
    b = T.shape[-1]
    idx = jnp.arange(b)
    eye = jnp.eye(b, dtype=T.dtype)

    def body(i, X):
        row = jnp.where(idx < i, T[i], 0)
        xi = eye[i] - mm(row, X)
        if not unit:
            xi = xi / T[i, i]
        return X.at[i].set(xi)

    return lax.fori_loop(0, b, body, jnp.zeros_like(T))


def tri_inv_lower(T: jax.Array, unit: bool = False) -> jax.Array:
    """Inverse of the lower triangle of T (b×b, b static); the upper part is ignored.

    Partitioned inverse [[A, 0], [C, D]]⁻¹ = [[A⁻¹, 0], [-D⁻¹ C A⁻¹, D⁻¹]],
    recursively; `unit` ignores the diagonal (taken as ones).
    """
    b = T.shape[-1]
    if b <= _LEAF:
        return _tri_inv_leaf(T, unit)
    h = b // 2
    Ai = tri_inv_lower(T[:h, :h], unit)
    Di = tri_inv_lower(T[h:, h:], unit)
    C = -mm(Di, mm(T[h:, :h], Ai))
    top = jnp.concatenate([Ai, jnp.zeros((h, b - h), T.dtype)], axis=1)
    return jnp.concatenate([top, jnp.concatenate([C, Di], axis=1)], axis=0)


# ------------------------------------------------------------------ Cholesky
def chol_leaf(A: jax.Array) -> jax.Array:
    b = A.shape[-1]
    idx = jnp.arange(b)

    def body(j, L):
        v = column(A, j) - mm(L, L[j])  # columns >= j of L are still zero
        d = jnp.sqrt(v[j])  # NaN when the pivot is negative: A is not PD
        return L.at[:, j].set(jnp.where(idx >= j, v / d, 0))

    return lax.fori_loop(0, b, body, jnp.zeros_like(A))


def chol_unblocked(A: jax.Array) -> jax.Array:
    """Lower Cholesky factor of a small b×b block (reads the lower triangle only)."""
    b = A.shape[-1]
    if b <= _LEAF:
        return chol_leaf(A)
    h = b // 2
    L11 = chol_unblocked(A[:h, :h])
    L21 = mm(A[h:, :h], tri_inv_lower(L11).T)
    L22 = chol_unblocked(A[h:, h:] - mm(L21, L21.T))
    top = jnp.concatenate([L11, jnp.zeros((h, b - h), A.dtype)], axis=1)
    return jnp.concatenate([top, jnp.concatenate([L21, L22], axis=1)], axis=0)


def blocked_cholesky(A: jax.Array, nb: int) -> jax.Array:
    """Left-looking blocked Cholesky of one n×n matrix (n > nb): L with A = L Lᵀ.

    Block column k: C = A[k:, k] - L[k:, :k] L[k, :k]ᵀ (one matmul), then
    L_kk = chol(C_kk) and L_(k+1:),k = C_(k+1:) L_kk⁻ᵀ.
    """
    n = A.shape[-1]
    K = -(-n // nb)
    N = K * nb
    Ap = pad_identity(A, N)
    L = jnp.zeros_like(Ap)
    for k0, k1 in phases(K):
        ps, pe = k0 * nb, k1 * nb
        M = N - ps
        Aph = Ap[ps:, :]
        rows = jnp.arange(M)[:, None] + ps

        def body(k, L, ps=ps, pe=pe, M=M, Aph=Aph, rows=rows):
            cb = k * nb
            C = lax.dynamic_slice(Aph, (0, cb), (M, nb))
            C = C - mm(L[ps:, :pe], lax.dynamic_slice(L, (cb, 0), (nb, pe)).T)
            L11 = chol_unblocked(lax.dynamic_slice(C, (cb - ps, 0), (nb, nb)))
            col = jnp.where(rows >= cb + nb, mm(C, tri_inv_lower(L11).T), 0)
            col = lax.dynamic_update_slice(col, L11, (cb - ps, 0))
            return lax.dynamic_update_slice(L, col, (ps, cb))

        L = lax.fori_loop(k0, k1, body, L)
    return L[:n, :n]


# ------------------------------------------------------------------------ LU
def swap_rows(X: jax.Array, i, p) -> jax.Array:
    """Exchange rows i and p of X (traced indices)."""
    ri, rp = X[i], X[p]
    return X.at[i].set(rp).at[p].set(ri)


def swaps_to_permutation(ipiv: jax.Array, size: int, start=0) -> jax.Array:
    """perm (size,) with X[perm] = X after the interchanges row start+t <-> ipiv[t]."""
    perm = jnp.arange(size, dtype=jnp.int32)
    if ipiv.shape[0] == 0:
        return perm
    return lax.fori_loop(0, ipiv.shape[0],
                         lambda t, p: swap_rows(p, start + t, ipiv[t]), perm)


def apply_swaps(X: jax.Array, ipiv: jax.Array, start) -> jax.Array:
    """Apply the interchanges row start+t <-> ipiv[t], t = 0, 1, ..., in order.

    The swaps are composed on an index vector first and applied with one row
    gather: swapping rows of X inside a loop would copy X at every step.
    """
    if ipiv.shape[0] == 0:
        return X
    return jnp.take(X, swaps_to_permutation(ipiv, X.shape[0], start), axis=0)


def panel_lu_leaf(P: jax.Array, r0) -> tuple[jax.Array, jax.Array]:
    M, w = P.shape
    rows = jnp.arange(M)
    cols = jnp.arange(w)

    def body(j, carry):
        P, ipiv = carry
        c = r0 + j
        p = jnp.argmax(jnp.where(rows >= c, jnp.abs(column(P, j)), -1.0))
        P = swap_rows(P, c, p)
        colv = column(P, j)
        pivot = colv[c]
        # A zero pivot (singular A) leaves the column as it is, like LAPACK xGETF2.
        lcol = jnp.where(rows > c, colv / jnp.where(pivot != 0, pivot, 1), 0)
        urow = jnp.where(cols > j, P[c], 0)
        P = P - lcol[:, None] * urow[None, :]
        P = P.at[:, j].set(jnp.where(rows > c, lcol, colv))
        return P, ipiv.at[j].set(p.astype(jnp.int32))

    return lax.fori_loop(0, w, body, (P, jnp.zeros((w,), jnp.int32)))


def panel_lu(P: jax.Array, r0) -> tuple[jax.Array, jax.Array]:
    """Partial-pivoting LU of the M×w panel P whose diagonal starts at row r0.

    Rows above r0 are left alone; `ipiv[j]` is the (absolute) row exchanged
    with row r0 + j. Recursive halving (Toledo 1997).
    """
    w = P.shape[1]
    if w <= _LEAF:
        return panel_lu_leaf(P, r0)
    h = w // 2
    rows = jnp.arange(P.shape[0])[:, None]
    Pl, ipl = panel_lu(P[:, :h], r0)
    Pr = apply_swaps(P[:, h:], ipl, r0)
    L11 = lax.dynamic_slice(Pl, (r0, 0), (h, h))
    U12 = mm(tri_inv_lower(L11, unit=True), lax.dynamic_slice(Pr, (r0, 0), (h, w - h)))
    Pr = lax.dynamic_update_slice(Pr, U12, (r0, 0))
    Pr = Pr - mm(jnp.where(rows >= r0 + h, Pl, 0), U12)
    Pr, ipr = panel_lu(Pr, r0 + h)
    Pl = apply_swaps(Pl, ipr, r0 + h)
    return jnp.concatenate([Pl, Pr], axis=1), jnp.concatenate([ipl, ipr])


def blocked_lu(A: jax.Array, nb: int) -> tuple[jax.Array, jax.Array]:
    """Right-looking blocked LU with partial pivoting of one n×n matrix (n > nb).

    Returns LAPACK-style (lu, ipiv): unit-lower L below the diagonal, U on and
    above it, and the interchanges row i <-> ipiv[i] applied in order.
    """
    n = A.shape[-1]
    K = -(-n // nb)
    N = K * nb
    Ap = pad_identity(A, N)
    ipiv = jnp.arange(N, dtype=jnp.int32)
    for k0, k1 in phases(K):
        ps, pe = k0 * nb, k1 * nb
        M = N - ps
        rows = jnp.arange(M)[:, None]
        cols = jnp.arange(M)[None, :]

        def body(k, carry, ps=ps, M=M, rows=rows, cols=cols):
            W, ipiv = carry
            r0 = k * nb - ps
            panel, ip = panel_lu(lax.dynamic_slice(W, (0, r0), (M, nb)), r0)
            W = apply_swaps(W, ip, r0)
            W = lax.dynamic_update_slice(W, panel, (0, r0))
            Urow = lax.dynamic_slice(W, (r0, 0), (nb, M))
            L11 = lax.dynamic_slice(panel, (r0, 0), (nb, nb))
            U12 = jnp.where(cols >= r0 + nb, mm(tri_inv_lower(L11, unit=True), Urow), 0)
            W = W - mm(jnp.where(rows >= r0 + nb, panel, 0), U12)
            W = lax.dynamic_update_slice(W, jnp.where(cols >= r0 + nb, U12, Urow), (r0, 0))
            return W, lax.dynamic_update_slice(ipiv, ip + ps, (k * nb,))

        W, ipiv = lax.fori_loop(k0, k1, body, (Ap[ps:, ps:], ipiv))
        Ap = Ap.at[ps:, ps:].set(W)
        if ps > 0:  # the L columns of earlier phases see this phase's interchanges
            Ap = Ap.at[ps:, :ps].set(apply_swaps(Ap[ps:, :ps], ipiv[ps:pe] - ps, 0))
    return Ap[:n, :n], ipiv[:n]


# ----------------------------------------------------------- Householder QR
def _house_panel(P: jax.Array, r0) -> tuple[jax.Array, jax.Array]:
    """Unblocked Householder QR of the M×w panel whose diagonal starts at row r0.

    Returns the panel with R on/above the diagonal and the reflector tails
    below it (LAPACK xGEQR2 storage, v_j[r0+j] = 1 implicit) and tau (w,).
    """
    M, w = P.shape
    rows = jnp.arange(M)
    cols = jnp.arange(w)

    def body(j, carry):
        P, tau = carry
        c = r0 + j
        x = jnp.where(rows >= c, column(P, j), 0)
        scale = jnp.max(jnp.abs(x))
        scale = jnp.where(scale > 0, scale, 1)
        alpha = x[c]
        tail = jnp.where(rows > c, x, 0) / scale
        s2 = jnp.sum(tail * tail)
        trivial = s2 == 0  # nothing to annihilate: H = I (tau = 0), like xLARFG
        a = alpha / scale
        nrm = jnp.sqrt(a * a + jnp.where(trivial, 1, s2))
        beta = jnp.where(a >= 0, -nrm, nrm)
        t = jnp.where(trivial, 0, (beta - a) / beta)
        v = jnp.where(rows == c, 1, tail / jnp.where(trivial, 1, a - beta))
        wv = mm(v, P)
        P = P - t * v[:, None] * jnp.where(cols > j, wv, 0)[None, :]
        newcol = jnp.where(rows > c, v, jnp.where(rows == c,
                                                  jnp.where(trivial, alpha, beta * scale), x))
        newcol = jnp.where(rows < c, column(P, j), newcol)
        return P.at[:, j].set(newcol), tau.at[j].set(t)

    return lax.fori_loop(0, w, body, (P, jnp.zeros((w,), P.dtype)))


def reflectors(panel: jax.Array, r0) -> jax.Array:
    """The unit-lower reflector matrix V (M×w) stored below the diagonal of `panel`."""
    rows = jnp.arange(panel.shape[0])[:, None]
    diag = r0 + jnp.arange(panel.shape[1])[None, :]
    return jnp.where(rows > diag, panel, jnp.where(rows == diag, 1, 0)).astype(panel.dtype)


def t_factor(V: jax.Array, tau: jax.Array) -> jax.Array:
    """Upper-triangular T with H_1 H_2 ... H_w = I - V T Vᵀ (Schreiber-Van Loan)."""
    w = tau.shape[0]
    G = mm(V.T, V)
    idx = jnp.arange(w)

    def body(j, T):
        g = jnp.where(idx < j, G[:, j], 0)
        col = jnp.where(idx < j, -tau[j] * mm(T, g), 0)
        return T.at[:, j].set(col.at[j].set(tau[j]))

    return lax.fori_loop(0, w, body, jnp.zeros((w, w), V.dtype))


def blocked_householder(A: jax.Array, nb: int) -> tuple[jax.Array, jax.Array, int]:
    """Blocked Householder QR (compact WY) of one m×n matrix.

    Returns (F, Ts, k): F is the (padded, Mp×Np) factored matrix (R above,
    reflectors below the diagonal), Ts the (K, nb, nb) T factors, k = min(m, n).
    Block step: factor the panel, then A_trail -= V Tᵀ (Vᵀ A_trail).
    """
    m, n = A.shape
    k = min(m, n)
    K = -(-k // nb)
    kp = K * nb
    Mp, Np = max(m, kp), max(n, kp)
    F = jnp.zeros((Mp, Np), A.dtype).at[:m, :n].set(A)
    Ts = jnp.zeros((K, nb, nb), A.dtype)
    for k0, k1 in phases(K):
        ps = k0 * nb
        cols = jnp.arange(Np - ps)[None, :]

        def body(b, carry, ps=ps, cols=cols):
            W, Ts = carry
            r0 = b * nb - ps
            panel, tau = _house_panel(lax.dynamic_slice(W, (0, r0), (W.shape[0], nb)), r0)
            V = reflectors(panel, r0)
            T = t_factor(V, tau)
            trail = jnp.where(cols >= r0 + nb, W, 0)
            W = W - mm(V, mm(T.T, mm(V.T, trail)))
            W = lax.dynamic_update_slice(W, panel, (0, r0))
            return W, Ts.at[b].set(T)

        W, Ts = lax.fori_loop(k0, k1, body, (F[ps:, ps:], Ts))
        F = F.at[ps:, ps:].set(W)
    return F, Ts, k


def householder_q(F: jax.Array, Ts: jax.Array, ncols: int) -> jax.Array:
    """Q[:, :ncols] = H_1 ... H_K I[:, :ncols] by backward accumulation (Mp×ncols)."""
    Mp = F.shape[0]
    K, nb, _ = Ts.shape
    Q = jnp.eye(Mp, ncols, dtype=F.dtype)
    for k0, k1 in reversed(phases(K)):
        ps = k0 * nb
        if ps >= ncols:
            continue

        def body(i, W, ps=ps, k0=k0, k1=k1):
            b = k1 - 1 - (i - k0)
            r0 = b * nb - ps
            V = reflectors(lax.dynamic_slice(F[ps:, ps:], (0, r0), (Mp - ps, nb)), r0)
            return W - mm(V, mm(Ts[b], mm(V.T, W)))

        Q = Q.at[ps:, ps:].set(lax.fori_loop(k0, k1, body, Q[ps:, ps:]))
    return Q
