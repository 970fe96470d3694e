"""Private machinery of `jaxla.eigh_qr`: blocked tridiagonalization, the
implicit Wilkinson-shift QR sweeps on the tridiagonal, wavefront application of
their rotations, and the back-transformation (see `jaxla.qr_algorithm`).

Everything here works on a stack of B matrices at once ("native" batching):
a sweep's bulge chase is one `lax.scan` over positions whose carries are
(B,) vectors, so a batch runs as dense vector code and a single matrix runs
as cheap scalar code; converged matrices ride along as no-ops.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxla._blocked import mm as _mm

_HIGHEST = lax.Precision.HIGHEST

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
