"""PyTorch twins of `jaxla.qr_algorithm`: `eigh_qr`, `eigvals_qr`, `schur`.

Textbook implementations with Python loops (Golub & Van Loan, 4th ed.:
Algorithm 8.3.1 tridiagonalization, 8.3.3 symmetric QR with Wilkinson shift,
7.4.2 Hessenberg reduction, 7.5.2 Francis QR with deflation). Unlike the JAX
version (which sweeps every unreduced block at once), this one works on the
bottom-most unreduced block only, as the textbook does. Batches are solved one
matrix at a time. Non-convergence within `max_iters` gives NaN outputs.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from torchbridge.linalg.basics import _as_float
from torchbridge.linalg.eigen import EighResult


def _square(A, name="A") -> torch.Tensor:
    A = _as_float(A, name)
    if A.is_complex():
        raise TypeError(f"`{name}` must be real; got dtype {A.dtype}.")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"`{name}` must be square (..., n, n); got shape {tuple(A.shape)}.")
    return A


def _reflector(x: torch.Tensor):
    """v, beta with (I - beta v v^T) x = -sign(x0) ||x|| e0."""
    v = x.clone()
    alpha = torch.linalg.vector_norm(x)
    v[0] += alpha if x[0] >= 0 else -alpha
    vv = torch.dot(v, v)
    return v, (2.0 / vv if vv > 0 else torch.zeros((), dtype=x.dtype))


def _per_matrix(fn, A: torch.Tensor):
    flat = A.reshape(-1, *A.shape[-2:])
    outs = [fn(a) for a in flat]
    return tuple(torch.stack(c).reshape((*A.shape[:-2], *c[0].shape)) for c in zip(*outs))


# ---------------------------------------------------------------- symmetric
def _eigh_one(A: torch.Tensor, max_iters: int):
    n = A.shape[-1]
    scale = A.abs().max()
    scale = scale if bool(torch.isfinite(scale)) and scale > 0 else torch.ones((), dtype=A.dtype)
    T = 0.5 * (A + A.T) / scale
    Q = torch.eye(n, dtype=A.dtype, device=A.device)
    for k in range(n - 2):
        v, beta = _reflector(T[k + 1:, k])
        # Two-sided update on the trailing block and the k-th row/column.
        H = torch.eye(n - k - 1, dtype=A.dtype) - beta * torch.outer(v, v)
        T[k + 1:, :] = H @ T[k + 1:, :]
        T[:, k + 1:] = T[:, k + 1:] @ H
        Q[:, k + 1:] = Q[:, k + 1:] @ H
    d = T.diagonal().clone()
    e = T.diagonal(-1).clone()
    if not (bool(torch.isfinite(d).all()) and bool(torch.isfinite(e).all())):
        return torch.full_like(d, math.nan), torch.full_like(Q, math.nan)
    eps = torch.finfo(A.dtype).eps
    tiny = torch.finfo(A.dtype).tiny
    sweeps, q = 0, n - 1
    while q > 0:
        for i in range(n - 1):
            if abs(e[i]) <= eps * (abs(d[i]) + abs(d[i + 1])) + tiny:
                e[i] = 0.0
        while q > 0 and e[q - 1] == 0:
            q -= 1
        if q == 0:
            break
        if sweeps >= max_iters:
            return torch.full_like(d, math.nan), torch.full_like(Q, math.nan)
        p = q - 1
        while p > 0 and e[p - 1] != 0:
            p -= 1
        # Wilkinson shift from the trailing 2x2 of block [p, q].
        delta = 0.5 * (d[q - 1] - d[q])
        sgn = 1.0 if delta >= 0 else -1.0
        mu = d[q] - e[q - 1] ** 2 / (delta + sgn * torch.hypot(delta, e[q - 1]))
        x, z = d[p] - mu, e[p]
        for k in range(p, q):
            r = torch.hypot(x, z)
            one = torch.ones((), dtype=A.dtype)
            c, s = (x / r, z / r) if r > 0 else (one, 0 * one)
            if k > p:
                e[k - 1] = r
            a, b, cc = d[k].clone(), e[k].clone(), d[k + 1].clone()
            d[k] = c * c * a + 2 * c * s * b + s * s * cc
            d[k + 1] = s * s * a - 2 * c * s * b + c * c * cc
            e[k] = c * s * (cc - a) + (c * c - s * s) * b
            Q[:, [k, k + 1]] = Q[:, [k, k + 1]] @ torch.stack(
                [torch.stack([c, -s]), torch.stack([s, c])]).to(Q.dtype)
            if k + 1 < q:
                x, z = e[k], s * e[k + 1]
                e[k + 1] = c * e[k + 1]
        sweeps += 1
    order = torch.argsort(d)
    return d[order] * scale, Q[:, order]


def eigh_qr(A: torch.Tensor, *, max_iters: int | None = None) -> EighResult:
    """Symmetric eigen-decomposition: Householder tridiagonal + Wilkinson-shift QR."""
    A = _square(A)
    its = 30 * max(A.shape[-1], 2) if max_iters is None else int(max_iters)
    return EighResult(*_per_matrix(lambda a: _eigh_one(a.clone(), its), A))


# ------------------------------------------------------------------ general
def _split_block(H, Z, p):
    """Rotate a 2x2 block with real eigenvalues to upper-triangular form."""
    a, b, c, d = H[p, p], H[p, p + 1], H[p + 1, p], H[p + 1, p + 1]
    half = 0.5 * (a - d)
    disc = half * half + b * c
    if disc < 0:
        return
    root = torch.sqrt(disc)
    lam = d + half + (root if half >= 0 else -root)
    r = torch.hypot(lam - d, c)
    if r == 0:
        return
    cs, sn = (lam - d) / r, c / r
    G = torch.stack([torch.stack([cs, -sn]), torch.stack([sn, cs])])
    H[[p, p + 1], :] = G.T @ H[[p, p + 1], :]
    H[:, [p, p + 1]] = H[:, [p, p + 1]] @ G
    Z[:, [p, p + 1]] = Z[:, [p, p + 1]] @ G
    H[p + 1, p] = 0.0


def _schur_one(A: torch.Tensor, max_iters: int):
    n = A.shape[-1]
    scale = A.abs().max()
    scale = scale if bool(torch.isfinite(scale)) and scale > 0 else torch.ones((), dtype=A.dtype)
    H = A / scale
    Z = torch.eye(n, dtype=A.dtype, device=A.device)
    for k in range(n - 2):
        v, beta = _reflector(H[k + 1:, k])
        P = torch.eye(n - k - 1, dtype=A.dtype) - beta * torch.outer(v, v)
        H[k + 1:, :] = P @ H[k + 1:, :]
        H[:, k + 1:] = H[:, k + 1:] @ P
        Z[:, k + 1:] = Z[:, k + 1:] @ P
    H = torch.triu(H, -1)
    nan = (torch.full_like(H, math.nan), torch.full_like(Z, math.nan))
    if not bool(torch.isfinite(H).all()):
        return nan
    eps, tiny = torch.finfo(A.dtype).eps, torch.finfo(A.dtype).tiny
    hi, its, steps = n - 1, 0, 0
    while hi >= 0:
        if steps >= max_iters:
            return nan
        steps += 1
        for i in range(hi):
            if abs(H[i + 1, i]) <= eps * (abs(H[i, i]) + abs(H[i + 1, i + 1])) + tiny:
                H[i + 1, i] = 0.0
        lo = hi
        while lo > 0 and H[lo, lo - 1] != 0:
            lo -= 1
        if lo == hi:
            hi, its = hi - 1, 0
            continue
        if lo == hi - 1:
            _split_block(H, Z, lo)
            hi, its = hi - 2, 0
            continue
        its += 1
        if its % 10 == 0:  # exceptional shift (LAPACK dlahqr)
            s = abs(H[hi, hi - 1]) + abs(H[hi - 1, hi - 2])
            h11 = 0.75 * s + H[hi, hi]
            trace, det = 2 * h11, h11 * h11 + 0.4375 * s * s
        else:
            trace = H[hi - 1, hi - 1] + H[hi, hi]
            det = H[hi - 1, hi - 1] * H[hi, hi] - H[hi - 1, hi] * H[hi, hi - 1]
        x = H[lo, lo] ** 2 + H[lo, lo + 1] * H[lo + 1, lo] - trace * H[lo, lo] + det
        y = H[lo + 1, lo] * (H[lo, lo] + H[lo + 1, lo + 1] - trace)
        z = H[lo + 2, lo + 1] * H[lo + 1, lo]
        for k in range(lo, hi - 1):
            v, beta = _reflector(torch.stack([x, y, z]))
            P = torch.eye(3, dtype=A.dtype) - beta * torch.outer(v, v)
            H[k:k + 3, :] = P @ H[k:k + 3, :]
            H[:, k:k + 3] = H[:, k:k + 3] @ P
            Z[:, k:k + 3] = Z[:, k:k + 3] @ P
            x, y = H[k + 1, k], H[k + 2, k]
            if k < hi - 2:
                z = H[k + 3, k]
        v, beta = _reflector(torch.stack([x, y]))
        P = torch.eye(2, dtype=A.dtype) - beta * torch.outer(v, v)
        H[hi - 1:hi + 1, :] = P @ H[hi - 1:hi + 1, :]
        H[:, hi - 1:hi + 1] = H[:, hi - 1:hi + 1] @ P
        Z[:, hi - 1:hi + 1] = Z[:, hi - 1:hi + 1] @ P
        H = torch.triu(H, -1)
        if not bool(torch.isfinite(H).all()):
            return nan
    return H * scale, Z


class SchurResult(NamedTuple):
    """Real Schur form A = Z T Zᵀ: T quasi-upper-triangular, Z orthogonal."""

    T: torch.Tensor
    Z: torch.Tensor


def schur(A: torch.Tensor, *, max_iters: int | None = None) -> SchurResult:
    """Real Schur form by Hessenberg reduction and Francis double-shift QR."""
    A = _square(A)
    its = 30 * max(A.shape[-1], 2) if max_iters is None else int(max_iters)
    return SchurResult(*_per_matrix(lambda a: _schur_one(a.clone(), its), A))


def _block_eigvals(T: torch.Tensor) -> torch.Tensor:
    n = T.shape[-1]
    cdtype = torch.complex128 if T.dtype == torch.float64 else torch.complex64
    out = torch.zeros(n, dtype=cdtype)
    j = 0
    while j < n:
        if j + 1 < n and T[j + 1, j] != 0:
            a, b, c, d = T[j, j], T[j, j + 1], T[j + 1, j], T[j + 1, j + 1]
            mean = 0.5 * (a + d)
            im = torch.sqrt(torch.clamp(-(0.25 * (a - d) ** 2 + b * c), min=0))
            out[j] = torch.complex(mean, im)
            out[j + 1] = torch.complex(mean, -im)
            j += 2
        else:
            out[j] = T[j, j]
            j += 1
    return out


def eigvals_qr(A: torch.Tensor, *, max_iters: int | None = None) -> torch.Tensor:
    """Eigenvalues (complex) of a real matrix, in the order of the Schur diagonal."""
    T = schur(A, max_iters=max_iters).T
    flat = T.reshape(-1, *T.shape[-2:])
    return torch.stack([_block_eigvals(t) for t in flat]).reshape(*T.shape[:-1])
