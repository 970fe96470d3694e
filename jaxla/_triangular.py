"""Blocked triangular solves X = op(T)⁻¹ B, the kernel behind `jaxla.solvers`.

Small systems (n <= block) use row-by-row substitution in a `fori_loop`;
larger ones blocked substitution over block rows with the diagonal blocks'
inverses computed up front and matrix products on static windows (`_blocked`).

Reference: Golub & Van Loan, Matrix Computations (4th ed.), 3.1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from jaxla import _blocked
from jaxla._blocked import mm


def _substitution(T: jax.Array, B: jax.Array, unit: bool) -> jax.Array:
    n = T.shape[-1]
    idx = jnp.arange(n)

    def body(i, X):
        xi = B[i] - mm(jnp.where(idx < i, T[i], 0), X)
        return X.at[i].set(xi if unit else xi / T[i, i])

    return lax.fori_loop(0, n, body, jnp.zeros_like(B))


def _trsm_small(T, B, lower: bool, trans: bool, unit: bool) -> jax.Array:
    if trans:
        T, lower = T.T, not lower
    if lower:
        return _substitution(T, B, unit)
    # An upper system is a lower one with rows and columns in reverse order.
    return _substitution(T[::-1, ::-1], B[::-1], unit)[::-1]


def trsm(T, B, lower: bool, trans: bool, unit: bool, nb: int) -> jax.Array:
    """X = op(T)⁻¹ B for triangular T (n×n), op(T) = Tᵀ if `trans`; B (n×k).

    n <= nb: substitution. Otherwise blocked substitution over block rows of
    op(T): x_k = op(T)_kk⁻¹ (b_k - op(T)_k,done x_done), with the inverses of
    all diagonal blocks computed up front (one batched `tri_inv_lower`) and
    the products restricted to a static window per phase (see `_blocked`).
    Tᵀ and upper triangles are read in place (no transposed or reversed copy).
    """
    n = T.shape[-1]
    if n == 0:
        return B
    if n <= nb:
        return _trsm_small(T, B, lower, trans, unit)
    K = -(-n // nb)
    N = K * nb
    Tp = _blocked.pad_identity(T, N)
    Bp = jnp.zeros((N, B.shape[1]), B.dtype).at[:n].set(B)
    D = _blocked.diagonal_blocks(Tp, nb)
    Dinv = _blocked.tri_inv_lower(D if lower else jnp.swapaxes(D, -1, -2), unit)
    forward = lower != trans  # op(T) is lower triangular
    Einv = Dinv if forward else jnp.swapaxes(Dinv, -1, -2)  # op(T)_kk⁻¹

    def row_block(r, c0, c1):  # op(T)[r:r+nb, c0:c1]
        if trans:
            return lax.dynamic_slice(Tp, (c0, r), (c1 - c0, nb)).T
        return lax.dynamic_slice(Tp, (r, c0), (nb, c1 - c0))

    X = jnp.zeros_like(Bp)
    for k0, k1 in (_blocked.phases(K) if forward else reversed(_blocked.phases(K))):
        c0, c1 = (0, k1 * nb) if forward else (k0 * nb, N)  # static window of unknowns

        def body(i, Xw, k0=k0, k1=k1, c0=c0, c1=c1):
            k = i if forward else k0 + k1 - 1 - i
            r = k * nb
            rhs = lax.dynamic_slice(Bp, (r, 0), (nb, Bp.shape[1]))
            rhs = rhs - mm(row_block(r, c0, c1), Xw)  # unknowns not yet solved are 0
            return lax.dynamic_update_slice(Xw, mm(Einv[k], rhs), (r - c0, 0))

        X = X.at[c0:c1].set(lax.fori_loop(k0, k1, body, X[c0:c1]))
    return X[:n]
