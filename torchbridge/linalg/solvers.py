"""PyTorch twins of `jaxla.solvers`.

Independent implementations in plain PyTorch: substitution written out with
loops over row blocks, solves built on the twins in
`torchbridge.linalg.factorizations`, least squares / pinv / rank / cond on the
Jacobi `torchbridge.linalg.svd`. Same semantics as `jaxla` (SciPy vector rule
for `b`, NaN/inf instead of exceptions, `assume_a="auto"` stable-solve
decision, `checked` raising `ValueError`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import torch

from torchbridge.linalg import factorizations as fz
from torchbridge.linalg.svd import svd


def _rhs(A: torch.Tensor, b, a_name: str = "A"):
    b = fz._as_real(b, "b")
    vector = b.ndim == A.ndim - 1
    if b.ndim == 0 or (not vector and b.ndim < 2):
        raise ValueError(f"`b` must have shape (..., n) or (..., n, k); got {tuple(b.shape)}.")
    rows = b.shape[-1] if vector else b.shape[-2]
    if rows != A.shape[-2]:
        raise ValueError(
            f"`b` has shape {tuple(b.shape)}, incompatible with `{a_name}` of shape "
            f"{tuple(A.shape)} (need {A.shape[-2]} rows).")
    B = b.unsqueeze(-1) if vector else b
    dtype = torch.promote_types(A.dtype, B.dtype)
    return B.to(dtype), vector


def _out(X: torch.Tensor, vector: bool) -> torch.Tensor:
    return X.squeeze(-1) if vector else X


def _forward_substitution(T: torch.Tensor, B: torch.Tensor, unit: bool,
                          block: int = 32) -> torch.Tensor:
    """X = T⁻¹ B for lower T (..., n, n): loop over row blocks, substitution inside."""
    n = T.shape[-1]
    X = torch.zeros_like(B)
    for s in range(0, n, block):
        e = min(s + block, n)
        rhs = B[..., s:e, :] - T[..., s:e, :s] @ X[..., :s, :]
        for i in range(s, e):
            row = rhs[..., i - s, :] - (T[..., i, s:i].unsqueeze(-2) @ X[..., s:i, :]).squeeze(-2)
            X[..., i, :] = row if unit else row / T[..., i, i].unsqueeze(-1)
    return X


def _tri(T, B, lower: bool, trans: bool, unit: bool) -> torch.Tensor:
    if trans:
        T, lower = T.mT, not lower
    if lower:
        return _forward_substitution(T, B, unit)
    flip = T.flip(-1).flip(-2)
    return _forward_substitution(flip, B.flip(-2), unit).flip(-2)


def solve_triangular(T: torch.Tensor, b: torch.Tensor, *, lower: bool = True,
                     trans: bool = False, unit_diagonal: bool = False,
                     block_size: int | None = None) -> torch.Tensor:
    """Solve T x = b (or Tᵀ x = b) for triangular T; only that triangle is read."""
    del block_size
    T = fz._square(T, "T")
    B, vector = _rhs(T, b, "T")
    T = T.to(B.dtype)
    batch = torch.broadcast_shapes(T.shape[:-2], B.shape[:-2])
    T = T.expand(batch + T.shape[-2:])
    B = B.expand(batch + B.shape[-2:])
    return _out(_tri(T, B, lower, trans, unit_diagonal), vector)


def cho_solve(L: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Solve L Lᵀ x = b given the lower Cholesky factor L."""
    L = fz._square(L, "L")
    B, vector = _rhs(L, b, "L")
    Y = solve_triangular(L, B)
    return _out(solve_triangular(L, Y, trans=True), vector)


def _permute_rows(B: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    return torch.take_along_dim(B, perm.unsqueeze(-1).expand(perm.shape + B.shape[-1:]), -2)


def lu_solve(lu_and_piv, b: torch.Tensor) -> torch.Tensor:
    """Solve A x = b from `lu_factor(A)`: P L U x = b."""
    if not isinstance(lu_and_piv, (tuple, list)) or len(lu_and_piv) != 2:
        raise TypeError("`lu_and_piv` must be the (lu, piv) pair returned by `lu_factor`.")
    M, piv = lu_and_piv
    M = fz._square(M, "lu")
    if piv.shape != M.shape[:-1] or piv.is_floating_point() or piv.is_complex():
        raise ValueError(f"`piv` must be an integer array of shape {tuple(M.shape[:-1])}; "
                         f"got {piv.dtype}{tuple(piv.shape)}.")
    B, vector = _rhs(M, b, "lu")
    batch = torch.broadcast_shapes(M.shape[:-2], B.shape[:-2])
    M = M.to(B.dtype).expand(batch + M.shape[-2:])
    perm = fz.pivots_to_permutation(piv.expand(batch + piv.shape[-1:]))
    Bp = _permute_rows(B.expand(batch + B.shape[-2:]), perm)
    Y = _forward_substitution(M, Bp, unit=True)
    return _out(_tri(M, Y, lower=False, trans=False, unit=False), vector)


def _solve_auto_one(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    n = A.shape[-1]
    eps = torch.finfo(A.dtype).eps
    if bool(fz.is_positive_definite(A)):
        return cho_solve(fz.cholesky(A), B)
    M, piv = fz.lu_factor(A)
    x = lu_solve((M, piv), B)
    # κ₁ = ‖A‖₁ ‖A⁻¹‖₁, computed exactly here (the JAX version estimates it)
    inv_norm = lu_solve((M, piv), torch.eye(n, dtype=A.dtype)).abs().sum(-2).max()
    kappa = A.abs().sum(-2).max() * inv_norm
    if torch.isfinite(kappa) and kappa * n * eps < 1:
        return x
    return _lstsq_svd(A, B, n * eps)[0]


def solve(A: torch.Tensor, b: torch.Tensor, *, assume_a: str = "gen") -> torch.Tensor:
    """Solve A x = b: "gen" (LU), "pos" (Cholesky) or "auto" (the stable-solve decision)."""
    A = fz._square(A)
    if assume_a not in ("gen", "pos", "auto"):
        raise ValueError(f"`assume_a` must be one of ('gen', 'pos', 'auto'); got {assume_a!r}.")
    B, vector = _rhs(A, b)
    A = A.to(B.dtype)
    if assume_a == "gen":
        return _out(lu_solve(fz.lu_factor(A), B), vector)
    if assume_a == "pos":
        return _out(cho_solve(fz.cholesky(A), B), vector)
    batch = torch.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    As = A.expand(batch + A.shape[-2:]).reshape(-1, *A.shape[-2:])
    Bs = B.expand(batch + B.shape[-2:]).reshape(-1, *B.shape[-2:])
    X = torch.stack([_solve_auto_one(a, bb) for a, bb in zip(As, Bs)]) if len(As) else Bs
    return _out(X.reshape(batch + B.shape[-2:]), vector)


class LstsqResult(NamedTuple):
    """solution, residuals (‖Ax - b‖² per column), rank, singular_values."""

    solution: torch.Tensor
    residuals: torch.Tensor
    rank: torch.Tensor
    singular_values: torch.Tensor


def _lstsq_svd(A: torch.Tensor, B: torch.Tensor, rcond):
    U, s, Vh = svd(A)
    keep = s > rcond * s[..., :1]
    sinv = torch.where(keep, 1 / torch.where(keep, s, torch.ones_like(s)), torch.zeros_like(s))
    X = Vh.mT @ (sinv.unsqueeze(-1) * (U.mT @ B))
    return X, s, keep.sum(-1).to(torch.int32)


def lstsq(A: torch.Tensor, b: torch.Tensor, *, rcond=None) -> LstsqResult:
    """min ‖Ax - b‖₂: QR when A has full column rank, else minimum norm via the SVD."""
    A = fz._matrix(A, "A")
    B, vector = _rhs(A, b)
    A = A.to(B.dtype)
    m, n = A.shape[-2:]
    if rcond is None:
        rcond = max(m, n) * torch.finfo(A.dtype).eps
    batch = torch.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    A = A.expand(batch + A.shape[-2:])
    B = B.expand(batch + B.shape[-2:])
    if min(m, n) == 0:
        X = B.new_zeros(batch + (n, B.shape[-1]))
        s = A.new_zeros(batch + (0,))
        rank = torch.zeros(batch, dtype=torch.int32)
    else:
        X, s, rank = _lstsq_svd(A, B, rcond)
        if m >= n:
            Q, R = fz.qr(A)
            Xqr = _tri(R, Q.mT @ B, lower=False, trans=False, unit=False)
            full = (rank == n).reshape(batch + (1, 1))
            X = torch.where(full, Xqr, X)
    res = (B - A @ X).square().sum(-2)
    return LstsqResult(_out(X, vector), res.squeeze(-1) if vector else res, rank, s)


def inv(A: torch.Tensor) -> torch.Tensor:
    """A⁻¹ by LU: solve A X = I."""
    A = fz._square(A)
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device).expand(A.shape)
    return lu_solve(fz.lu_factor(A), eye)


class SlogdetResult(NamedTuple):
    """det(A) = sign · exp(logabsdet)."""

    sign: torch.Tensor
    logabsdet: torch.Tensor


def _parity(piv: torch.Tensor) -> torch.Tensor:
    swaps = (piv != torch.arange(piv.shape[-1], device=piv.device)).sum(-1)
    return 1.0 - 2.0 * (swaps % 2)


def slogdet(A: torch.Tensor) -> SlogdetResult:
    """(sign, log|det A|) from the LU factors."""
    A = fz._square(A)
    M, piv = fz.lu_factor(A)
    d = M.diagonal(dim1=-2, dim2=-1)
    sign = _parity(piv).to(A.dtype) * d.sign().prod(-1)
    return SlogdetResult(sign, d.abs().log().sum(-1))


def det(A: torch.Tensor) -> torch.Tensor:
    """det(A) = ±Π u_ii."""
    A = fz._square(A)
    M, piv = fz.lu_factor(A)
    return _parity(piv).to(A.dtype) * M.diagonal(dim1=-2, dim2=-1).prod(-1)


def cond(A: torch.Tensor, p=2) -> torch.Tensor:
    """κ_p(A); p = 2 from singular values, p = 1, inf, "fro" from ‖A‖‖A⁻¹‖; inf if singular."""
    A = fz._matrix(A, "A")
    if p is None:
        p = 2
    if p not in (2, 1, math.inf, "fro"):
        raise ValueError(f"`p` must be one of 2, 1, inf, 'fro'; got {p!r}.")
    if p == 2:
        s = svd(A).S
        big, small = s[..., 0], s[..., -1]
        return torch.where(small > 0, big / torch.where(small > 0, small, torch.ones_like(small)),
                           torch.full_like(big, math.inf))
    A = fz._square(A)

    def norm(X):
        if p == "fro":
            return X.square().sum((-2, -1)).sqrt()
        return X.abs().sum(-2 if p == 1 else -1).amax(-1)

    k = norm(A) * norm(inv(A))
    return torch.where(torch.isfinite(k), k, torch.full_like(k, math.inf))


def matrix_rank(A: torch.Tensor, *, tol=None) -> torch.Tensor:
    """Number of singular values above tol (default σ_max·max(m, n)·eps)."""
    A = fz._matrix(A, "A")
    if min(A.shape[-2:]) == 0:
        return torch.zeros(A.shape[:-2], dtype=torch.int32)
    s = svd(A).S
    t = s[..., :1] * max(A.shape[-2:]) * torch.finfo(A.dtype).eps if tol is None else tol
    return (s > t).sum(-1).to(torch.int32)


def pinv(A: torch.Tensor, *, rtol=None) -> torch.Tensor:
    """A⁺ = V Σ⁺ Uᵀ, dropping σ <= rtol·σ_max (default rtol max(m, n)·eps)."""
    A = fz._matrix(A, "A")
    m, n = A.shape[-2:]
    if min(m, n) == 0:
        return A.new_zeros(A.shape[:-2] + (n, m))
    if rtol is None:
        rtol = max(m, n) * torch.finfo(A.dtype).eps
    U, s, Vh = svd(A)
    keep = s > rtol * s[..., :1]
    sinv = torch.where(keep, 1 / torch.where(keep, s, torch.ones_like(s)), torch.zeros_like(s))
    return (Vh.mT * sinv.unsqueeze(-2)) @ U.mT


def checked(fn: Callable) -> Callable:
    """Wrapper raising `ValueError` for non-finite inputs/outputs, non-PD or singular input."""
    if not callable(fn):
        raise TypeError(f"`fn` must be callable; got {type(fn).__name__}.")
    name = getattr(fn, "__name__", "fn")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        flat = [a for arg in args for a in (arg if isinstance(arg, (tuple, list)) else [arg])]
        for i, a in enumerate(t for t in flat if isinstance(t, torch.Tensor)):
            if a.is_floating_point() and not torch.isfinite(a).all():
                raise ValueError(f"input {i} of `{name}` contains NaN or inf.")
        out = fn(*args, **kwargs)
        if fn is fz.cholesky and not torch.isfinite(out).all():
            raise ValueError("`A` is not (numerically) positive definite: the Cholesky "
                             "factorization hit a non-positive pivot.")
        if fn in (fz.lu_factor, fz.lu):
            U = out[0] if fn is fz.lu_factor else out[2]
            if (U.diagonal(dim1=-2, dim2=-1) == 0).any():
                raise ValueError("`A` is singular: the LU factorization has a zero pivot.")
        leaves = out if isinstance(out, tuple) else (out,)
        if any(t.is_floating_point() and not torch.isfinite(t).all() for t in leaves):
            raise ValueError(f"`{name}` produced NaN/inf: the input is singular, not positive "
                             "definite or too ill-conditioned for this method.")
        return out

    return wrapper
