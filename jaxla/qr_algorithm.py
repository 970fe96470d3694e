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
from jaxla.eigen import EighResult

_HIGHEST = lax.Precision.HIGHEST


def _mm(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.matmul(a, b, precision=_HIGHEST)


def _prepare(A, name: str = "A") -> jax.Array:
    A = _validate.as_float_array(A, name, allow_complex=False)
    _validate.check_square(A, name)
    return A


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
# Everything below works on a stack of B matrices at once ("native" batching):
# a sweep's bulge chase is one `lax.scan` over positions whose carries are
# (B,) vectors, so a batch runs as dense vector code and a single matrix runs
# as cheap scalar code; converged matrices ride along as no-ops.
_LEVELS = 4  # static sweep lengths n, n/2, n/4, n/8: each sweep runs the shortest that fits
_MANY = 8  # above this many matrices: batch-minor W (batch in the vector lanes), scan-filled shifts


def _bmv(A: jax.Array, x: jax.Array) -> jax.Array:
    """(B, p, q) @ (B, q) -> (B, p)."""
    return jnp.einsum("bij,bj->bi", A, x, precision=_HIGHEST)


def _bvm(x: jax.Array, A: jax.Array) -> jax.Array:
    """(B, p) @ (B, p, q) -> (B, q)."""
    return jnp.einsum("bi,bij->bj", x, A, precision=_HIGHEST)


_PHASES = 2  # static trailing windows of the reduction and back-transform (each costs compile time)


def _phases(P: int, nb: int):
    """Split panels 0..P-1 into _PHASES contiguous runs (some may be empty); each
    run works on the static trailing window that starts at its first panel."""
    bounds = [P * i // _PHASES for i in range(_PHASES + 1)]
    return [(lo, hi, lo * nb) for lo, hi in zip(bounds[:-1], bounds[1:])]


def _tridiagonalize(A: jax.Array, nb: int):
    """A = Q T Qᵀ, T tridiagonal, for B symmetric matrices (B, n, n); LAPACK sytrd/latrd.

    Panels of `nb` columns: column j of a panel is reduced from the panel-start
    matrix corrected by the panel's earlier reflectors (A − V Wᵀ − W Vᵀ), and
    the trailing matrix gets one rank-2nb update per panel (two matmuls) instead
    of nb rank-2 updates. Work happens on static trailing windows (`_phases`),
    so the flops stay within ~2x of LAPACK's. Returns d (B, n), e (B, n-1),
    and Q in compact WY form: Y (B, P, n, nb), Tf (B, P, nb, nb) with
    Q = Π_p (I − Y_p Tf_p Y_pᵀ).
    """
    B, n, _ = A.shape
    P = -(-max(n - 2, 1) // nb)
    dtype = A.dtype

    def column(jj, carry, p0, s):
        A, V, W, d, e, betas = carry
        m = A.shape[1]
        idx = jnp.arange(m)
        g = p0 + jj - s  # local index in the window
        a = lax.dynamic_index_in_dim(A, g, axis=1, keepdims=False)  # row g = column g
        a = a - _bmv(V, lax.dynamic_index_in_dim(W, g, 1, False)) \
            - _bmv(W, lax.dynamic_index_in_dim(V, g, 1, False))
        x = jnp.where(idx > g, a, 0.0)
        alpha = lax.dynamic_index_in_dim(a, jnp.minimum(g + 1, m - 1), 1, False)
        norm = jnp.sqrt(jnp.sum(x * x, axis=1))
        sign = jnp.where(alpha >= 0, 1.0, -1.0).astype(dtype)
        v = x + jnp.where(idx == g + 1, (sign * norm)[:, None], 0.0)
        vtv = jnp.sum(v * v, axis=1)
        beta = jnp.where(vtv > 0, 2.0 / jnp.where(vtv > 0, vtv, 1.0), 0.0)
        # p = β (A − V Wᵀ − W Vᵀ) v;  w = p − (β/2)(pᵀv) v  (GVL Algorithm 8.3.1)
        p = beta[:, None] * (_bmv(A, v) - _bmv(V, _bvm(v, W)) - _bmv(W, _bvm(v, V)))
        w = p - (0.5 * beta * jnp.sum(v * p, axis=1))[:, None] * v
        V = lax.dynamic_update_index_in_dim(V, v, jj, axis=2)
        W = lax.dynamic_update_index_in_dim(W, w, jj, axis=2)
        d = lax.dynamic_update_index_in_dim(d, lax.dynamic_index_in_dim(a, g, 1, False), g + s, 1)
        e = lax.dynamic_update_index_in_dim(e, jnp.where(vtv > 0, -sign * norm, alpha), g + s, 1)
        return A, V, W, d, e, lax.dynamic_update_index_in_dim(betas, beta, jj, 1)

    def t_factor(V, betas):
        """Upper-triangular Tf with H_0 ⋯ H_{nb-1} = I − V Tf Vᵀ (Schreiber-Van Loan)."""
        G = _mm(jnp.swapaxes(V, 1, 2), V)
        k = jnp.arange(nb)

        def body(j, Tf):
            bj = lax.dynamic_index_in_dim(betas, j, 1, False)[:, None]
            g = jnp.where(k < j, lax.dynamic_index_in_dim(G, j, 2, False), 0.0)
            col = jnp.where(k == j, bj, -bj * _bmv(Tf, g))
            return lax.dynamic_update_index_in_dim(Tf, col, j, axis=2)

        return lax.fori_loop(0, nb, body, jnp.zeros((B, nb, nb), dtype))

    def panel(pi, carry, s):
        A, d, e, Y, Tf = carry
        p0 = pi * nb
        zeros = jnp.zeros((B, n - s, nb), dtype)
        A, V, W, d, e, betas = lax.fori_loop(
            0, jnp.minimum(nb, n - 2 - p0), functools.partial(column, p0=p0, s=s),
            (A, zeros, zeros, d, e, jnp.zeros((B, nb), dtype)))
        A = A - _mm(V, jnp.swapaxes(W, 1, 2)) - _mm(W, jnp.swapaxes(V, 1, 2))
        Y = lax.dynamic_update_slice(Y, V[:, None], (0, pi, s, 0))
        Tf = lax.dynamic_update_index_in_dim(Tf, t_factor(V, betas), pi, axis=1)
        return A, d, e, Y, Tf

    carry = (A, jnp.zeros((B, n), dtype), jnp.zeros((B, n - 1), dtype),
             jnp.zeros((B, P, n, nb), dtype), jnp.zeros((B, P, nb, nb), dtype))
    offset = 0
    for lo, hi, s in _phases(P, nb):  # lax.slice even when trivial: same program for every n
        window = lax.slice(carry[0], (0, s - offset, s - offset), carry[0].shape)
        carry = (window,) + carry[1:]
        carry = lax.fori_loop(lo, hi, functools.partial(panel, s=s), carry)
        offset = s
    A, d, e, Y, Tf = carry
    # The trailing 2×2 needs no reflector.
    d = d.at[:, n - 2:].set(jnp.stack([A[:, -2, -2], A[:, -1, -1]], axis=1))
    e = e.at[:, n - 2].set(A[:, -1, -2])
    return d, e, Y, Tf


def _back_transform(Y: jax.Array, Tf: jax.Array, X: jax.Array) -> jax.Array:
    """Q X for Q = Π_p (I − Y_p Tf_p Y_pᵀ): three matmuls per panel, last panel
    first, each on the trailing rows its reflectors touch (static windows)."""
    B, P, n, nb = Y.shape

    def body(i, Xw, hi, s):
        p = hi - 1 - i
        Yp = lax.slice_in_dim(lax.dynamic_index_in_dim(Y, p, 1, False), s, n, axis=1)
        Tp = lax.dynamic_index_in_dim(Tf, p, 1, False)
        return Xw - _mm(Yp, _mm(Tp, _mm(jnp.swapaxes(Yp, 1, 2), Xw)))

    for lo, hi, s in reversed(_phases(P, nb)):
        Xw = lax.slice_in_dim(X, s, n, axis=1)
        Xw = lax.fori_loop(0, hi - lo, functools.partial(body, hi=hi, s=s), Xw)
        X = lax.dynamic_update_slice_in_dim(X, Xw, s, axis=1)
    return X


def _deflate(d: jax.Array, e: jax.Array) -> jax.Array:
    """Zero off-diagonals with |e_k| <= eps(|d_k| + |d_k+1|); d, e: (n+1, B) zero-padded."""
    eps, tiny = jnp.finfo(d.dtype).eps, jnp.finfo(d.dtype).tiny
    small = jnp.abs(e[:-1]) <= eps * (jnp.abs(d[:-1]) + jnp.abs(d[1:])) + tiny
    return e.at[:-1].set(jnp.where(small, 0.0, e[:-1]))


def _sweep_setup(d: jax.Array, e: jax.Array, enabled):
    """Per position k: rotation active (e_k ≠ 0), block start, and the Wilkinson
    shift of the block containing k (eigenvalue of its trailing 2×2 closest to
    its last diagonal entry)."""
    n, B = d.shape[0] - 1, d.shape[1]
    act = (e[:n] != 0) & enabled
    a, c, b = d[:n - 1], d[1:n], e[:n - 1]
    delta = 0.5 * (a - c)
    denom = delta + jnp.where(delta >= 0, 1.0, -1.0) * jnp.hypot(delta, b)
    safe = jnp.where(denom != 0, denom, 1.0)
    mu_end = jnp.concatenate([d[:1], jnp.where(denom != 0, c - b * (b / safe), c)])
    if B > _MANY:  # fill each block's shift backwards from its last row (a gather is slow here)
        def fill(carry, inp):
            carry = jnp.where(inp[0], inp[1], carry)
            return carry, carry

        _, mu = lax.scan(fill, mu_end[n - 1], (~act, mu_end), reverse=True)
    else:
        pos = jnp.arange(n)[:, None]
        block_end = lax.cummin(jnp.where(act, n - 1, pos), axis=0, reverse=True)
        mu = jnp.take_along_axis(mu_end, block_end, axis=0)
    start = act & ~jnp.concatenate([jnp.zeros((1, B), bool), act[:-1]])
    return act, start, mu


def _chase(d, e, act, start, mu, w0, L):
    """Implicit QR step on positions w0..w0+L-1 of every block: one streaming scan.

    Rotation k acts on rows/columns (k, k+1); the scan carries the entries it
    has modified (d_k, e_k, the pending e_{k-1} and the bulge), reads d_{k+1},
    e_{k+1}, and emits the finished d_k, e_{k-1} and the rotation (c_k, s_k).
    At a block start the rotation is fixed by the shifted first column
    (d_k − μ, e_k); elsewhere it annihilates the bulge. GVL Algorithm 8.3.2.
    """
    B = d.shape[1]
    window = functools.partial(lax.dynamic_slice_in_dim, start_index=w0, slice_size=L, axis=0)
    xs = (window(d[1:]), window(e[1:]), window(start), window(act), window(mu))

    def step(carry, inp):
        a, b, x_in, z = carry
        d_next, e_next, st, ac, shift = inp
        x = jnp.where(st, a - shift, x_in)
        z = jnp.where(st, b, z)
        r = jnp.sqrt(x * x + z * z)  # entries are O(‖T‖) after scaling: no overflow
        ok = ac & (r > 0)
        inv = 1.0 / jnp.where(ok, r, 1.0)
        c = jnp.where(ok, x * inv, 1.0)
        s = jnp.where(ok, z * inv, 0.0)
        e_prev = jnp.where(ac & ~st, r, x_in)
        cs, c2, s2 = c * s, c * c, s * s
        a_new = c2 * a + 2 * cs * b + s2 * d_next
        a_next = s2 * a - 2 * cs * b + c2 * d_next
        b_new = cs * (d_next - a) + (c2 - s2) * b
        return (a_next, c * e_next, b_new, s * e_next), (a_new, e_prev, c, s)

    zero = jnp.zeros((B,), d.dtype)
    init = (lax.dynamic_index_in_dim(d, w0, 0, False), lax.dynamic_index_in_dim(e, w0, 0, False),
            zero, zero)
    _, (d_out, e_out, c, s) = lax.scan(step, init, xs)
    d = lax.dynamic_update_slice_in_dim(d, d_out, w0, 0)
    e = lax.dynamic_update_slice_in_dim(e, e_out[1:], w0, 0)  # e_out[0] is e_{w0-1} = 0
    return d, e, c, s


def _sweep(d: jax.Array, e: jax.Array, enabled):
    """One Wilkinson-shift QR step on every unreduced block (each with its own
    shift and bulge), over the shortest static window that covers them.
    Returns d, e and the rotations c, s: (n, B), identity outside the blocks."""
    n, B = d.shape[0] - 1, d.shape[1]
    act, start, mu = _sweep_setup(d, e, enabled)
    pos = jnp.arange(n)[:, None]
    lo = jnp.min(jnp.where(act, pos, n))
    need = jnp.max(jnp.where(act, pos, -1)) + 2 - lo  # positions lo .. hi+1
    sizes = [-(-n // 2 ** i) for i in range(_LEVELS)]
    level = sum((need <= L).astype(jnp.int32) for L in sizes[1:])

    def run(L):
        def branch(d, e):
            w0 = jnp.minimum(lo, n - L)
            d, e, c, s = _chase(d, e, act, start, mu, w0, L)
            c = lax.dynamic_update_slice_in_dim(jnp.ones((n, B), d.dtype), c, w0, 0)
            s = lax.dynamic_update_slice_in_dim(jnp.zeros((n, B), d.dtype), s, w0, 0)
            return d, e, c, s
        return branch

    return lax.switch(level, [run(L) for L in sizes], d, e)


def _skew(table: jax.Array, fill: float, length: int) -> jax.Array:
    """(S, n, B) -> (length, S, B): out[t, i] = table[S-1-i, t - 2(S-1-i)], `fill` elsewhere.

    Row j is shifted right by 2j through a reshape of the padded table (no gather)."""
    S, n, B = table.shape
    P = max(length, n) + 2 * S
    padded = jnp.concatenate([table, jnp.full((S, P - n, B), fill, table.dtype)], axis=1)
    shifted = padded.reshape(S * P, B)[: S * (P - 2)].reshape(S, P - 2, B)[:, :length]
    return jnp.swapaxes(shifted[::-1], 0, 1)


def _two_layer_stencil(c: jax.Array, s: jax.Array) -> jax.Array:
    """Coefficients of two consecutive wavefront layers as one 5-point row stencil.

    c, s: (2H, S, B) skewed rotations. Layer 1 rotates window rows (2i, 2i+1)
    with (c1_i, s1_i), layer 2 rows (2i+1, 2i+2) with (c2_i, s2_i); composed,
    row r of 2S+1 becomes Σ_{o=-2..2} a_o[r] x_{r+o}. Returns (H, 5, 2S+1, B).
    """
    c1, s1, c2, s2 = c[0::2], s[0::2], c[1::2], s[1::2]
    H, S, B = c1.shape
    one, zero = jnp.ones((H, 1, B), c.dtype), jnp.zeros((H, 1, B), c.dtype)
    c1n = jnp.concatenate([c1[:, 1:], one], axis=1)  # (c1, s1) of the pair below
    s1n = jnp.concatenate([s1[:, 1:], zero], axis=1)
    nil = jnp.zeros_like(c1)

    def rows(first, odd, even):  # row 0, then rows 2i+1 and 2i+2 interleaved
        return jnp.concatenate([first, jnp.stack([odd, even], 2).reshape(H, 2 * S, B)], axis=1)

    return jnp.stack([rows(zero, nil, s2 * s1), rows(zero, -c2 * s1, -s2 * c1),
                      rows(c1[:, :1], c2 * c1, c2 * c1n), rows(s1[:, :1], s2 * c1n, c2 * s1n),
                      rows(zero, s2 * s1n, nil)], axis=1)


def _apply_sweeps(W: jax.Array, c: jax.Array, s: jax.Array, batch_minor: bool) -> jax.Array:
    """Apply the rotations of S consecutive sweeps to the rows of W as a wavefront.

    Rotation k of sweep j maps rows (k, k+1) to (c r_k + s r_{k+1}, c r_{k+1} − s r_k).
    It must follow rotations k−1, k of its own sweep and k, k+1 of the previous
    one, so at time t = k + 2j the S rotations (j = 0..S−1, k = t − 2j) act on
    disjoint row pairs inside one 2S-row window: n + 2S vector steps apply S
    sweeps (instead of S·n scalar-row steps), and only the times where some
    rotation is not the identity are visited. W: (n + 4S + 2, B, m) or,
    batch-minor, (n + 4S + 2, m, B), with 2S zero rows of padding on top.
    Batch-major W (one or few matrices, long rows) takes two layers per step
    as a 5-point stencil, which halves the passes over the window.
    """
    S, n, B = c.shape
    rest = W.shape[1:]
    times = jnp.arange(S)[:, None] * 2 + jnp.arange(n)[None, :]
    busy = jnp.any((c != 1) | (s != 0), axis=2)
    t_lo = jnp.min(jnp.where(busy, times, n + 2 * S))
    t_hi = jnp.max(jnp.where(busy, times, -1))
    length = 2 * ((n + 2 * S + 3) // 2)  # even, past the last time
    c, s = _skew(c, 1.0, length), _skew(s, 0.0, length)
    if not batch_minor:
        coef = _two_layer_stencil(c, s)[..., None]

        def two_steps(h, W):  # times 2h, 2h+1: window rows 2h-2S+2 .. 2h+2 (+2 halo rows)
            x = lax.dynamic_slice_in_dim(W, 2 * h, 2 * S + 5, 0)
            a = lax.dynamic_index_in_dim(coef, h, 0, False)
            y = sum(a[o] * x[o:o + 2 * S + 1] for o in range(5))
            return lax.dynamic_update_slice_in_dim(W, y, 2 * h + 2, 0)

        return lax.fori_loop(t_lo // 2, t_hi // 2 + 1, two_steps, W)
    sign = jnp.array([1.0, -1.0], W.dtype)[None, :, None, None]

    def step(t, W):
        win = lax.dynamic_slice_in_dim(W, t + 2, 2 * S, 0).reshape((S, 2) + rest)
        ct = lax.dynamic_index_in_dim(c, t, 0, False)[:, None, None, :]
        st = lax.dynamic_index_in_dim(s, t, 0, False)[:, None, None, :] * sign
        win = ct * win + st * win[:, ::-1]  # pairs (r0, r1) -> (c r0 + s r1, c r1 − s r0)
        return lax.dynamic_update_slice_in_dim(W, win.reshape((2 * S,) + rest), t + 2, 0)

    return lax.fori_loop(t_lo, t_hi + 1, step, W)


def _qr_iterate(d: jax.Array, e: jax.Array, max_iters: int):
    """Implicit QR on B tridiagonals: d (B, n), e (B, n-1) -> d, e, W (B, n, n)
    with W T_0 Wᵀ = T_final; columns of Wᵀ are the eigenvectors of T_0."""
    B, n = d.shape
    dtype = d.dtype
    S = min(32, max(2, n // 16))  # sweeps per wavefront
    batch_minor = B > _MANY
    d = jnp.concatenate([d.T, jnp.zeros((1, B), dtype)])
    e = _deflate(d, jnp.concatenate([e.T, jnp.zeros((2, B), dtype)]))
    eye = jnp.eye(n, dtype=dtype)
    eye = jnp.broadcast_to(eye[:, :, None] if batch_minor else eye[:, None, :],
                           (n, n, B) if batch_minor else (n, B, n))
    W = jnp.concatenate([jnp.zeros((2 * S,) + eye.shape[1:], dtype), eye,
                         jnp.zeros((2 * S + 2,) + eye.shape[1:], dtype)])

    def cond(state):
        it, _, e, _ = state
        return (it < max_iters) & jnp.any(e != 0)

    def body(state):
        it, d, e, W = state

        def one(carry, j):
            d, e, c, s = _sweep(*carry, it + j < max_iters)
            return (d, _deflate(d, e)), (c, s)

        (d, e), (c, s) = lax.scan(one, (d, e), jnp.arange(S))
        return it + S, d, e, _apply_sweeps(W, c, s, batch_minor)

    _, d, e, W = lax.while_loop(cond, body, (jnp.int32(0), d, e, W))
    W = W[2 * S:2 * S + n]
    W = jnp.transpose(W, (2, 0, 1) if batch_minor else (1, 0, 2))
    return d[:n].T, e[:n - 1].T, W


def _grouped(fn, B: int, group: int, *args):
    """fn over consecutive groups of `group` matrices (a lax.map), so each group's
    working set stays in cache; args and results have the batch axis first."""
    G = -(-B // group)
    args = [jnp.pad(a, [(0, G * group - B)] + [(0, 0)] * (a.ndim - 1)) for a in args]
    out = lax.map(lambda xs: fn(*xs), [a.reshape((G, group) + a.shape[1:]) for a in args])
    return jax.tree_util.tree_map(lambda o: o.reshape((G * group,) + o.shape[2:])[:B], out)


def _eigh_qr_stack(A: jax.Array, max_iters: int):
    """eigh of B symmetric matrices (B, n, n) -> w (B, n) ascending, V (B, n, n)."""
    B, n, _ = A.shape
    dtype = A.dtype
    if n == 1:  # static special case: nothing to iterate
        return A[:, 0], jnp.where(jnp.isfinite(A), 1.0, jnp.nan).astype(dtype)
    scale = jnp.max(jnp.abs(A), axis=(1, 2))
    finite = jnp.isfinite(scale)
    scale = jnp.where(finite & (scale > 0), scale, 1.0)
    A = jnp.where(finite[:, None, None], 0.5 * (A + jnp.swapaxes(A, 1, 2)), 0.0)
    A = A / scale[:, None, None]
    nb = min(32, max(8, n // 16))  # small panels for small n: the corrections are O(n·nb)
    group = max(1, min(B, 2 ** 16 // (n * n)))  # ~256 KiB of float32 per group
    d, e, Y, Tf = _grouped(lambda a: _tridiagonalize(a, nb), B, group, A)
    d, e, W = _qr_iterate(d, e, max_iters)
    V = _grouped(_back_transform, B, group, Y, Tf, jnp.swapaxes(W, 1, 2))
    ok = finite & jnp.all(e == 0, axis=1)
    order = jnp.argsort(d, axis=1)
    w = jnp.take_along_axis(d, order, axis=1) * scale[:, None]
    V = jnp.take_along_axis(V, order[:, None, :], axis=2)
    return jnp.where(ok[:, None], w, jnp.nan), jnp.where(ok[:, None, None], V, jnp.nan)


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
    A = _prepare(A)
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
    A = _prepare(A)
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
