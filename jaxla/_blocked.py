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
Cholesky block and the LU of a tall panel -- are split recursively in halves
(a Python recursion over the static block size, depth log2(nb)), down to
leaves of `_LEAF` columns handled by a `fori_loop`. This is the recursive
formulation of Gustavson (1997) and Toledo (1997): matmul-rich, with few
scalar steps. Row interchanges travel as permutation vectors and are applied
with one gather (or, for the trailing matrix, to the <= 2·nb rows that move),
never one swap at a time.

Triangular solves against a diagonal block multiply by its inverse (the
partitioned inverse of LAPACK xTRTRI, evaluated level by level with batched
products, so no loop at all); this is the "inversion-based TRSM" used by GPU
BLAS libraries. Its error bound carries a factor cond(T_kk) of the *diagonal
block* only, which for Cholesky factors and partially pivoted L factors
stays modest; the zoo tests check the LAPACK residual criterion on matrices
with condition numbers up to 1e12.

XLA:CPU notes that shaped the loop bodies: a variadic argmax reduction is
several times slower than a max and a min-index reduction; slicing a vector
out of the result of a large fused update makes XLA recompute the update per
element, so loop bodies read such vectors from the loop carry instead; the
scalar panel loop works on the transposed panel, so that a panel column is a
contiguous row.

References:
  F. G. Gustavson, Recursion leads to automatic variable blocking for dense
    linear-algebra algorithms, IBM J. Res. Dev. 41 (1997).
  S. Toledo, Locality of reference in LU decomposition with partial pivoting,
    SIMAX 18 (1997).
  R. Schreiber & C. Van Loan, A storage-efficient WY representation for
    products of Householder transformations, SISSC 10 (1989).
  E. Elmroth & F. G. Gustavson, Applying recursion to serial and parallel QR
    factorization leads to better performance, IBM J. Res. Dev. 44 (2000).
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
def diagonal_blocks(T: jax.Array, nb: int) -> jax.Array:
    """The K diagonal nb×nb blocks of T (..., K·nb, K·nb) as (..., K, nb, nb)."""
    K = T.shape[-1] // nb
    T4 = T.reshape(T.shape[:-2] + (K, nb, K, nb))
    idx = jnp.arange(K)
    return jnp.moveaxis(T4[..., idx, :, idx, :], 0, -3)


def _small_mm(a: jax.Array, b: jax.Array) -> jax.Array:
    """Batched product of tiny matrices as a fusible broadcast-and-sum."""
    if a.shape[-1] > 8:
        return mm(a, b)
    return jnp.sum(a[..., :, :, None] * b[..., None, :, :], axis=-2)


def tri_inv_lower(T: jax.Array, unit: bool = False) -> jax.Array:
    """Inverse of the lower triangle of T (..., b, b), b static; the upper part is ignored.

    Partitioned inverse [[A, 0], [C, D]]⁻¹ = [[A⁻¹, 0], [-D⁻¹ C A⁻¹, D⁻¹]]
    (LAPACK xTRTRI's recursion), evaluated bottom-up one level at a time:
    all diagonal blocks of size s are combined pairwise into blocks of size
    2s with batched products, so there is no loop and only log2(b) levels.
    `unit` ignores the diagonal (taken as ones).
    """
    b = T.shape[-1]
    if b == 0:
        return T
    size = 1 << (b - 1).bit_length()
    batch = T.shape[:-2]
    if size != b:  # embed in a power-of-two identity: [[T, 0], [0, I]]⁻¹ = [[T⁻¹, 0], [0, I]]
        T = jnp.zeros(batch + (size, size), T.dtype).at[..., :b, :b].set(T)
        T = T.at[..., jnp.arange(b, size), jnp.arange(b, size)].set(1)
    diag = jnp.diagonal(T, axis1=-2, axis2=-1)
    X = (jnp.ones_like(diag) if unit else 1 / diag)[..., None, None]  # (..., size, 1, 1)
    s = 1
    while s < size:
        G = size // (2 * s)
        D = diagonal_blocks(T, 2 * s)  # (..., G, 2s, 2s)
        C = D[..., s:, :s]
        Ai = X[..., 0::2, :, :]
        Di = X[..., 1::2, :, :]
        C = -_small_mm(Di, _small_mm(C, Ai))
        zero = jnp.zeros(batch + (G, s, s), T.dtype)
        X = jnp.concatenate([jnp.concatenate([Ai, zero], axis=-1),
                             jnp.concatenate([C, Di], axis=-1)], axis=-2)
        s *= 2
    return X[..., 0, :b, :b]


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
                         lambda t, p: swap_rows(p, start + t, ipiv[t]), perm,
                         unroll=min(8, ipiv.shape[0]))


def pivot_row(x: jax.Array, rows: jax.Array, c) -> jax.Array:
    """First i >= c with |x_i| maximal (the first NaN if there is one), like LAPACK's i_amax.

    Two plain reductions (max, then min index) instead of a variadic argmax
    reduction, which XLA:CPU runs several times slower.
    """
    M = x.shape[0]
    a = jnp.where(rows >= c, jnp.abs(x), -1)
    hit = (a == jnp.max(a)) | jnp.isnan(a)
    return jnp.minimum(jnp.min(jnp.where(hit, rows, M)), M - 1).astype(jnp.int32)


def panel_lu_leaf(P: jax.Array, r0) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Right-looking unblocked LU (xGETF2) of the M×w panel whose diagonal starts at row r0.

    Works on the transposed panel (w×M, a panel column is a contiguous row)
    and carries the next pivot column through the loop, so that each step is
    one pivot search and one fused swap-and-rank-1-update pass.
    Returns (P, ipiv, perm) as `panel_lu`.
    """
    M, w = P.shape
    rows = jnp.arange(M, dtype=jnp.int32)
    ks = jnp.arange(w)

    def body(j, carry):
        Q, ipiv, perm = carry
        c = r0 + j
        x = Q[j]
        p = pivot_row(x, rows, c)
        qc, qp = column(Q, c), column(Q, p)
        swap = lambda v: jnp.where(rows == c, v[p], jnp.where(rows == p, v[c], v))  # noqa: E731
        xs = swap(x)  # column j after the interchange
        # A zero pivot (singular A) leaves the column as it is, like LAPACK xGETF2.
        lcol = jnp.where(rows > c, xs / jnp.where(xs[c] != 0, xs[c], 1), 0)
        urow = jnp.where(ks > j, qp, 0)
        S = jnp.where(rows == c, qp[:, None], jnp.where(rows == p, qc[:, None], Q))
        Q = jnp.where((ks == j)[:, None], jnp.where(rows > c, lcol, xs)[None, :],
                      S - urow[:, None] * lcol[None, :])
        return Q, ipiv.at[j].set(p), swap(perm)

    Q = P.T
    init = (Q, jnp.zeros((w,), jnp.int32), rows)
    Q, ipiv, perm = lax.fori_loop(0, w, body, init)
    return Q.T, ipiv, perm


def apply_row_permutation(X: jax.Array, perm: jax.Array, r0, ipiv: jax.Array) -> jax.Array:
    """X[perm] for the permutation of the interchanges row r0+t <-> ipiv[t], t < len(ipiv).

    Only the rows r0, ..., r0+len(ipiv)-1 and ipiv can move: they are gathered
    and scattered back (duplicates in that list receive identical rows), so
    the cost is O(len(ipiv)) rows, not the whole of X.
    """
    moved = jnp.concatenate([r0 + jnp.arange(ipiv.shape[0], dtype=jnp.int32), ipiv])
    return X.at[moved].set(jnp.take(X, perm[moved], axis=0))


def panel_lu(P: jax.Array, r0) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Partial-pivoting LU of the M×w panel P whose diagonal starts at row r0.

    Rows above r0 are left alone. Returns (P, ipiv, perm): the factored panel
    (L below, U on and above the diagonal) of P[perm]; `ipiv[j]` is the
    (absolute) row exchanged with row r0 + j, in order (LAPACK's record);
    `perm` is the same permutation composed into one index vector, so that
    it can be applied with a single gather. Recursive halving (Toledo 1997).
    """
    w = P.shape[1]
    if w <= _LEAF:
        return panel_lu_leaf(P, r0)
    h = w // 2
    rows = jnp.arange(P.shape[0])[:, None]
    Pl, ipl, perml = panel_lu(P[:, :h], r0)
    Pr = apply_row_permutation(P[:, h:], perml, r0, ipl)
    L11 = lax.dynamic_slice(Pl, (r0, 0), (h, h))
    U12 = mm(tri_inv_lower(L11, unit=True), lax.dynamic_slice(Pr, (r0, 0), (h, w - h)))
    Pr = lax.dynamic_update_slice(Pr, U12, (r0, 0))
    Pr = Pr - mm(jnp.where(rows >= r0 + h, Pl, 0), U12)
    Pr, ipr, permr = panel_lu(Pr, r0 + h)
    Pl = apply_row_permutation(Pl, permr, r0 + h, ipr)
    return (jnp.concatenate([Pl, Pr], axis=1), jnp.concatenate([ipl, ipr]),
            jnp.take(perml, permr))


def blocked_lu(A: jax.Array, nb: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Right-looking blocked LU with partial pivoting of one n×n matrix (n > nb).

    Returns LAPACK-style (lu, ipiv, perm): unit-lower L below the diagonal, U
    on and above it, the interchanges row i <-> ipiv[i] applied in order, and
    the same permutation as an index vector (A[perm] = L U). A block
    step moves at most 2·nb rows, so the interchanges are applied to those
    rows only (one gather and one scatter), not to the whole window.
    """
    n = A.shape[-1]
    K = -(-n // nb)
    N = K * nb
    Ap = pad_identity(A, N)
    ipiv = jnp.arange(N, dtype=jnp.int32)
    total_perm = ipiv
    for k0, k1 in phases(K):
        ps = k0 * nb
        M = N - ps
        rows = jnp.arange(M)[:, None]
        cols = jnp.arange(M)[None, :]

        def body(k, carry, M=M, ps=ps, rows=rows, cols=cols):
            W, ipiv, phase_perm = carry
            r0 = k * nb - ps
            panel, ip, perm = panel_lu(lax.dynamic_slice(W, (0, r0), (M, nb)), r0)
            W = apply_row_permutation(W, perm, r0, ip)
            W = lax.dynamic_update_slice(W, panel, (0, r0))
            Urow = lax.dynamic_slice(W, (r0, 0), (nb, M))
            L11 = lax.dynamic_slice(panel, (r0, 0), (nb, nb))
            U12 = jnp.where(cols >= r0 + nb, mm(tri_inv_lower(L11, unit=True), Urow), 0)
            W = W - mm(jnp.where(rows >= r0 + nb, panel, 0), U12)
            W = lax.dynamic_update_slice(W, jnp.where(cols >= r0 + nb, U12, Urow), (r0, 0))
            return (W, lax.dynamic_update_slice(ipiv, ip + ps, (k * nb,)),
                    jnp.take(phase_perm, perm))

        W, ipiv, phase_perm = lax.fori_loop(
            k0, k1, body, (Ap[ps:, ps:], ipiv, jnp.arange(M, dtype=jnp.int32)))
        Ap = Ap.at[ps:, ps:].set(W)
        total_perm = total_perm.at[ps:].set(jnp.take(total_perm[ps:], phase_perm))
        if ps > 0:  # the L columns of earlier phases see this phase's interchanges
            Ap = Ap.at[ps:, :ps].set(jnp.take(Ap[ps:, :ps], phase_perm, axis=0))
    return Ap[:n, :n], ipiv[:n], total_perm[:n]


# ----------------------------------------------------------- Householder QR
def _house_leaf(P: jax.Array, r0) -> tuple[jax.Array, jax.Array]:
    """Unblocked Householder QR (xGEQR2) of the M×w panel whose diagonal starts at row r0.

    Returns the panel with R on/above the diagonal and the reflector tails
    below it (LAPACK storage, v_j[r0+j] = 1 implicit) and tau (w,). Works on
    the transposed panel, as `panel_lu_leaf`.
    """
    M, w = P.shape
    rows = jnp.arange(M)
    ks = jnp.arange(w)

    def body(j, carry):
        Q, tau = carry
        c = r0 + j
        col = Q[j]
        x = jnp.where(rows >= c, col, 0)
        scale = jnp.max(jnp.abs(x))
        scale = jnp.where(scale > 0, scale, 1)
        alpha = col[c]
        tail = jnp.where(rows > c, x, 0) / scale
        s2 = jnp.sum(tail * tail)
        trivial = s2 == 0  # nothing to annihilate: H = I (tau = 0), like xLARFG
        a = alpha / scale
        nrm = jnp.sqrt(a * a + jnp.where(trivial, 1, s2))
        beta = jnp.where(a >= 0, -nrm, nrm)
        t = jnp.where(trivial, 0, (beta - a) / beta)
        v = jnp.where(rows == c, 1, tail / jnp.where(trivial, 1, a - beta))
        wv = jnp.where(ks > j, t * mm(Q, v), 0)  # t · vᵀ P[:, k] for the columns k > j
        newcol = jnp.where(rows > c, v, jnp.where(rows == c,
                                                  jnp.where(trivial, alpha, beta * scale), col))
        Q = jnp.where((ks == j)[:, None], newcol[None, :], Q - wv[:, None] * v[None, :])
        return Q, tau.at[j].set(t)

    Q, tau = lax.fori_loop(0, w, body, (P.T, jnp.zeros((w,), P.dtype)))
    return Q.T, tau


def reflectors(panel: jax.Array, r0) -> jax.Array:
    """The unit-lower reflector matrix V (M×w) stored below the diagonal of `panel`."""
    rows = jnp.arange(panel.shape[0])[:, None]
    diag = r0 + jnp.arange(panel.shape[1])[None, :]
    return jnp.where(rows > diag, panel, jnp.where(rows == diag, 1, 0)).astype(panel.dtype)


def t_factor(V: jax.Array, tau: jax.Array) -> jax.Array:
    """Upper-triangular T with H_1 H_2 ... H_w = I - V T Vᵀ (Schreiber-Van Loan).

    LAPACK's xLARFT recurrence T[:j, j] = -tau_j T[:j, :j] V[:, :j]ᵀ v_j is
    forward substitution for T = (I + diag(tau) S)⁻¹ diag(tau) with
    S = strictly-upper(VᵀV); this evaluates that closed form with the
    loop-free triangular inverse (no division by tau: tau = 0 is fine).
    """
    S = jnp.triu(mm(V.T, V), 1)
    Xt = tri_inv_lower((tau[:, None] * S).T, unit=True)  # ((I + diag(tau) S)ᵀ)⁻¹
    return Xt.T * tau[None, :]


def house_panel(P: jax.Array, r0) -> tuple[jax.Array, jax.Array]:
    """Householder QR of the M×w panel whose diagonal starts at row r0, with its T factor.

    Returns (panel, T): R on/above the diagonal and reflector tails below it,
    and T with H_1 ... H_w = I - V T Vᵀ. Recursive halving (Elmroth &
    Gustavson 2000): factor the left half, apply its reflectors to the right
    half with matmuls, factor the right half, and merge
    T = [[T1, -T1 V1ᵀ V2 T2], [0, T2]].
    """
    w = P.shape[1]
    if w <= _LEAF:
        panel, tau = _house_leaf(P, r0)
        return panel, t_factor(reflectors(panel, r0), tau)
    h = w // 2
    Pl, T1 = house_panel(P[:, :h], r0)
    V1 = reflectors(Pl, r0)
    Pr = P[:, h:]
    Pr = Pr - mm(V1, mm(T1.T, mm(V1.T, Pr)))
    Pr, T2 = house_panel(Pr, r0 + h)
    V2 = reflectors(Pr, r0 + h)
    T12 = -mm(T1, mm(mm(V1.T, V2), T2))
    T = jnp.concatenate([jnp.concatenate([T1, T12], axis=1),
                         jnp.concatenate([jnp.zeros((w - h, h), P.dtype), T2], axis=1)], axis=0)
    return jnp.concatenate([Pl, Pr], axis=1), T


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
            panel, T = house_panel(lax.dynamic_slice(W, (0, r0), (W.shape[0], nb)), r0)
            V = reflectors(panel, r0)
            Y = jnp.where(cols >= r0 + nb, mm(V.T, W), 0)  # Vᵀ A_trail, trailing columns only
            W = W - mm(V, mm(T.T, Y))
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
