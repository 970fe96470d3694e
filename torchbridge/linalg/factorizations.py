"""PyTorch twins of `jaxla.factorizations`: cholesky, ldl, lu, lu_factor, qr, rref.

Written from the textbook formulas (Golub & Van Loan 3.2, 4.1-4.2, 5.1-5.2) in
plain PyTorch with Python loops over columns or blocks, independently of the
JAX code. Same names, semantics and NamedTuple fields as `jaxla`:
`cholesky` reads the lower triangle and NaN-fills on failure, `ldl` does not
pivot and zeroes numerically-zero pivots, `lu_factor` returns 0-based LAPACK
interchanges, `qr` supports "householder" | "mgs" | "cgs2".
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch


def _as_real(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor; got {type(x).__name__}.")
    if x.is_complex():
        raise TypeError(f"`{name}` must be real; got dtype {x.dtype}.")
    if not x.is_floating_point():
        if x.dtype in (torch.bool, torch.int8, torch.int16, torch.int32, torch.int64,
                       torch.uint8):
            return x.to(torch.get_default_dtype())
        raise TypeError(f"`{name}` must have a floating dtype; got {x.dtype}.")
    return x


def _matrix(x, name: str) -> torch.Tensor:
    x = _as_real(x, name)
    if x.ndim < 2:
        raise ValueError(f"`{name}` must have at least 2 dimension(s); got shape {tuple(x.shape)}.")
    return x


def _square(x, name: str = "A") -> torch.Tensor:
    x = _matrix(x, name)
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"`{name}` must be square (..., n, n); got shape {tuple(x.shape)}.")
    return x


def _batched(fn, A: torch.Tensor, *rest):
    """Apply fn to every matrix of a (..., m, n) batch; stack each output."""
    batch = A.shape[:-2]
    flat = A.reshape(math.prod(batch), *A.shape[-2:])
    outs = [fn(a, *rest) for a in flat]
    if not outs:
        probe = fn(torch.zeros(A.shape[-2:], dtype=A.dtype, device=A.device), *rest)
        if isinstance(probe, tuple):
            return tuple(p.new_zeros(batch + p.shape) for p in probe)
        return probe.new_zeros(batch + probe.shape)
    if isinstance(outs[0], tuple):
        return tuple(torch.stack(parts).reshape(batch + parts[0].shape) for parts in zip(*outs))
    return torch.stack(outs).reshape(batch + outs[0].shape)


# ------------------------------------------------------------------ Cholesky
def _cholesky_one(A: torch.Tensor, block: int) -> torch.Tensor:
    n = A.shape[-1]
    L = torch.tril(A).clone()
    for s in range(0, n, block):  # right-looking: factor diagonal block, solve panel, update
        e = min(s + block, n)
        for j in range(s, e):  # column formulas inside the diagonal block
            L[j, j] = torch.sqrt(L[j, j] - L[j, s:j].square().sum())
            L[j + 1:e, j] = (L[j + 1:e, j] - L[j + 1:e, s:j] @ L[j, s:j]) / L[j, j]
        if e < n:
            # L21 L11ᵀ = A21
            L[e:, s:e] = torch.linalg.solve_triangular(L[s:e, s:e].T, L[e:, s:e], upper=True,
                                                       left=False)
            L[e:, e:] -= torch.tril(L[e:, s:e] @ L[e:, s:e].T)
    L = torch.tril(L)
    return L if torch.isfinite(L).all() else torch.full_like(L, float("nan"))


def cholesky(A: torch.Tensor, *, block_size: int | None = None) -> torch.Tensor:
    """Lower Cholesky factor (lower triangle read); all-NaN when A is not positive definite."""
    A = _square(A)
    return _batched(_cholesky_one, A, block_size or 64)


def is_positive_definite(A: torch.Tensor) -> torch.Tensor:
    """Symmetric (10·n·eps·max|A|) and a finite Cholesky factor; bool per matrix."""
    A = _square(A)
    n = A.shape[-1]
    if n == 0:
        return torch.ones(A.shape[:-2], dtype=torch.bool)
    tol = 10 * n * torch.finfo(A.dtype).eps * A.abs().amax((-2, -1))
    sym = (A - A.mT).abs().amax((-2, -1)) <= tol
    return sym & torch.isfinite(cholesky(A)).all(-1).all(-1)


# ---------------------------------------------------------------------- LDLᵀ
class LDLResult(NamedTuple):
    """A = L diag(d) Lᵀ with unit lower L (..., n, n) and d (..., n)."""

    L: torch.Tensor
    d: torch.Tensor


def _ldl_one(A: torch.Tensor):
    n = A.shape[-1]
    L = torch.eye(n, dtype=A.dtype, device=A.device)
    d = A.new_zeros(n)
    tiny = n * torch.finfo(A.dtype).eps * (A.diagonal().abs().max() if n else 0)
    for j in range(n):  # left-looking: d_j = a_jj - Σ l_jk² d_k
        dj = A[j, j] - (L[j, :j].square() * d[:j]).sum()
        if dj.abs() <= tiny:
            continue  # zero pivot of a semidefinite matrix: column stays e_j
        d[j] = dj
        L[j + 1:, j] = (A[j + 1:, j] - L[j + 1:, :j] @ (d[:j] * L[j, :j])) / dj
    return L, d


def ldl(A: torch.Tensor) -> LDLResult:
    """LDLᵀ without pivoting (lower triangle read); works on positive semidefinite A."""
    A = _square(A)
    return LDLResult(*_batched(_ldl_one, A))


# ------------------------------------------------------------------------ LU
def _lu_factor_one(A: torch.Tensor):
    n = A.shape[-1]
    M = A.clone()
    piv = torch.arange(n, device=A.device)
    for j in range(n):  # Gaussian elimination, partial pivoting (GvL Alg. 3.4.1)
        p = j + int(M[j:, j].abs().argmax())
        piv[j] = p
        if p != j:
            M[[j, p]] = M[[p, j]]
        if M[j, j] != 0:
            M[j + 1:, j] /= M[j, j]
            M[j + 1:, j + 1:] -= torch.outer(M[j + 1:, j], M[j, j + 1:])
    return M, piv.to(torch.int32)


def lu_factor(A: torch.Tensor, *, block_size: int | None = None):
    """(lu, piv): L below / U on and above the diagonal; row i swapped with piv[i] (0-based)."""
    del block_size  # unblocked here; kept for signature parity
    A = _square(A)
    return _batched(_lu_factor_one, A)


def pivots_to_permutation(piv: torch.Tensor) -> torch.Tensor:
    """perm with A[perm] = L U, from the interchanges."""
    flat = piv.reshape(math.prod(piv.shape[:-1]), piv.shape[-1]).tolist()
    perms = []
    for row in flat:
        perm = list(range(len(row)))
        for i, p in enumerate(row):
            perm[i], perm[p] = perm[p], perm[i]
        perms.append(perm)
    return torch.tensor(perms, dtype=torch.int64, device=piv.device).reshape(piv.shape)


def lu(A: torch.Tensor):
    """(P, L, U) with A = P L U."""
    M, piv = lu_factor(A)
    n = M.shape[-1]
    perm = pivots_to_permutation(piv)
    eye = torch.eye(n, dtype=M.dtype, device=M.device)
    P = eye[perm].mT
    return P, torch.tril(M, -1) + eye, torch.triu(M)


# ------------------------------------------------------------------------ QR
def _householder_one(A: torch.Tensor, complete: bool):
    m, n = A.shape
    k = min(m, n)
    R = A.clone()
    vs, taus = [], []
    for j in range(k):
        x = R[j:, j]
        alpha = x[0].clone()
        tail = x[1:].norm() if m - j > 1 else x.new_zeros(())
        v = torch.zeros_like(x)
        v[0] = 1
        if tail == 0:
            tau = x.new_zeros(())
        else:
            beta = -torch.copysign(torch.hypot(alpha, tail), alpha)
            tau = (beta - alpha) / beta
            v[1:] = x[1:] / (alpha - beta)
            R[j:, j:] -= tau * torch.outer(v, v @ R[j:, j:])
        vs.append(v)
        taus.append(tau)
    cols = m if complete else k
    Q = torch.eye(m, cols, dtype=A.dtype, device=A.device)
    for j in reversed(range(k)):
        Q[j:] -= taus[j] * torch.outer(vs[j], vs[j] @ Q[j:])
    return Q, torch.triu(R[:cols])


def _mgs_one(A: torch.Tensor):
    m, n = A.shape
    k = min(m, n)
    V = A.clone()
    Q = A.new_zeros(m, k)
    R = A.new_zeros(k, n)
    for j in range(k):
        R[j, j] = V[:, j].norm()
        Q[:, j] = V[:, j] / R[j, j] if R[j, j] > 0 else 0
        R[j, j + 1:] = Q[:, j] @ V[:, j + 1:]
        V[:, j + 1:] -= torch.outer(Q[:, j], R[j, j + 1:])
    return Q, R


def _cgs2_one(A: torch.Tensor):
    m, n = A.shape
    k = min(m, n)
    Q = A.new_zeros(m, k)
    R = A.new_zeros(k, n)
    for j in range(k):
        v = A[:, j].clone()
        for _ in range(2):  # "twice is enough"
            h = Q[:, :j].T @ v
            v = v - Q[:, :j] @ h
            R[:j, j] += h
        R[j, j] = v.norm()
        Q[:, j] = v / R[j, j] if R[j, j] > 0 else 0
    if n > k:
        R[:, k:] = Q.T @ A[:, k:]
    return Q, R


def qr(A: torch.Tensor, *, method: str = "householder", mode: str = "reduced"):
    """A = Q R by Householder reflections, modified Gram-Schmidt or CGS2."""
    A = _matrix(A, "A")
    if method not in ("householder", "mgs", "cgs2"):
        raise ValueError(f"`method` must be one of ('householder', 'mgs', 'cgs2'); got {method!r}.")
    if mode not in ("reduced", "complete"):
        raise ValueError(f"`mode` must be one of ('reduced', 'complete'); got {mode!r}.")
    m, n = A.shape[-2:]
    if method != "householder" and mode == "complete" and m > n:
        raise ValueError(
            f"`mode`='complete' needs `method`='householder'; got method={method!r}.")
    if method == "householder":
        return _batched(_householder_one, A, mode == "complete")
    return _batched(_mgs_one if method == "mgs" else _cgs2_one, A)


# ---------------------------------------------------------------------- RREF
class RREFResult(NamedTuple):
    """R (reduced row echelon form), pivots (-1 padded, length min(m, n)), rank."""

    R: torch.Tensor
    pivots: torch.Tensor
    rank: torch.Tensor


def _rref_one(A: torch.Tensor, tol):
    m, n = A.shape
    R = A.clone()
    pivots = [-1] * min(m, n)
    r = 0
    for j in range(n):
        if r == m:
            break
        p = r + int(R[r:, j].abs().argmax())
        if R[p, j].abs() <= tol:
            R[r:, j] = 0
            continue
        R[[r, p]] = R[[p, r]]
        R[r] = R[r] / R[r, j]
        others = torch.arange(m, device=A.device) != r
        R[others] -= torch.outer(R[others, j], R[r])
        R[others, j] = 0
        pivots[r] = j
        r += 1
    return (R, torch.tensor(pivots, dtype=torch.int32, device=A.device),
            torch.tensor(r, dtype=torch.int32, device=A.device))


def rref(A: torch.Tensor, *, tol=None) -> RREFResult:
    """Gauss-Jordan RREF with partial pivoting; tol default max(m, n)·eps·‖A‖_∞."""
    A = _matrix(A, "A")
    m, n = A.shape[-2:]
    flat = A.reshape(-1, m, n)
    outs = []
    for a in flat:
        t = tol
        if t is None:
            norm_inf = a.abs().sum(-1).max() if a.numel() else a.new_zeros(())
            t = max(m, n) * torch.finfo(A.dtype).eps * norm_inf
        outs.append(_rref_one(a, t))
    batch = A.shape[:-2]
    if not outs:
        return RREFResult(A.clone(), torch.full(batch + (min(m, n),), -1, dtype=torch.int32),
                          torch.zeros(batch, dtype=torch.int32))
    R, piv, rank = (torch.stack(x) for x in zip(*outs))
    return RREFResult(R.reshape(A.shape), piv.reshape(batch + piv.shape[1:]), rank.reshape(batch))
