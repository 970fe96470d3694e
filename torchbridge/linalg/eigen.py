"""PyTorch twins of `jaxla.eigen`: power, inverse and Rayleigh-quotient iteration,
deflation and the generalized symmetric-definite eigenproblem.

Written from the math (Golub & Van Loan, 4th ed., §7.3, §8.2.3, §8.7), with
plain Python loops: a vector iteration stops when ‖Av − λv‖₂ <= tol·scale or
after `max_iters`, and reports `num_iters`, `residual` and `converged` like the
JAX versions. Batched dense inputs are solved one matrix at a time. Deflation
here is Hotelling's (A − Σ λᵢ vᵢvᵢᵀ), the JAX twin projects instead; for
symmetric A both give the same pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from torchbridge.linalg.basics import _as_float


class EigenpairResult(NamedTuple):
    """One eigenpair: value, unit vector, iterations, residual ‖Av − λv‖, converged."""

    value: torch.Tensor
    vector: torch.Tensor
    num_iters: torch.Tensor
    residual: torch.Tensor
    converged: torch.Tensor


class EighResult(NamedTuple):
    """Eigenvalues (ascending) and eigenvectors (columns)."""

    eigenvalues: torch.Tensor
    eigenvectors: torch.Tensor


def _check_pair(A, v0, v_name="v0", v_dim=1):
    v0 = _as_float(v0, v_name)
    if callable(A) and not isinstance(A, torch.Tensor):
        if v0.ndim != v_dim:
            raise ValueError(f"`{v_name}` must have {v_dim} dimension(s); got shape "
                             f"{tuple(v0.shape)}.")
        _check_nonzero(v0 if v_dim == 1 else v0.mT, v_name)
        return A, v0, False
    A = _as_float(A, "A")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"`A` must be square (..., n, n); got shape {tuple(A.shape)}.")
    axis = -1 if v_dim == 1 else -2
    if v0.ndim < v_dim or v0.shape[axis] != A.shape[-1]:
        raise ValueError(f"`{v_name}` has shape {tuple(v0.shape)}, incompatible with `A` of "
                         f"shape {tuple(A.shape)}.")
    _check_nonzero(v0 if v_dim == 1 else v0.mT, v_name)
    dtype = torch.promote_types(A.dtype, v0.dtype)
    return A.to(dtype), v0.to(dtype), True


def _check_nonzero(v: torch.Tensor, name: str) -> None:
    if v.numel() and bool((v == 0).all(-1).any()):
        raise ValueError(f"`{name}` must be a nonzero start vector; got an all-zero vector.")


def _batched(fn, A: torch.Tensor, v: torch.Tensor, core_v: int = 1):
    """Apply `fn(A_i, v_i) -> tuple` over broadcast leading dims, stacking outputs."""
    batch = torch.broadcast_shapes(A.shape[:-2], v.shape[: v.ndim - core_v])
    A = A.expand(*batch, *A.shape[-2:]).reshape(-1, *A.shape[-2:])
    v = v.expand(*batch, *v.shape[v.ndim - core_v:]).reshape(-1, *v.shape[v.ndim - core_v:])
    outs = [fn(a, x) for a, x in zip(A, v)]
    return tuple(torch.stack(col).reshape((*batch, *col[0].shape)) for col in zip(*outs))


def _iterate(matvec: Callable, v: torch.Tensor, scale: float, tol: float, max_iters: int,
             next_vector: Callable) -> EigenpairResult:
    v = v / torch.linalg.vector_norm(v)
    Av = matvec(v)
    lam = torch.dot(v, Av)
    res = torch.linalg.vector_norm(Av - lam * v)
    steps = 0

    def converged() -> bool:
        return bool(res <= tol * max(abs(float(lam)), scale))

    while steps < max_iters and bool(torch.isfinite(res)) and not converged():
        x = next_vector(v, Av, lam)
        v = x / torch.linalg.vector_norm(x)
        Av = matvec(v)
        lam = torch.dot(v, Av)
        res = torch.linalg.vector_norm(Av - lam * v)
        steps += 1
    ok = bool(torch.isfinite(res)) and converged()
    return EigenpairResult(lam, v, torch.tensor(steps, dtype=torch.int32), res,
                           torch.tensor(ok))


def _rms_scale(A: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(A)) / A.shape[-1] ** 0.5


def _shifted_solver(A: torch.Tensor, sigma: float) -> Callable:
    """Solve (A − σI) x = b by LU; tiny pivots are nudged to ±eps·(scale + |σ|)."""
    n = A.shape[-1]
    LU, piv, _ = torch.linalg.lu_factor_ex(A - sigma * torch.eye(n, dtype=A.dtype, device=A.device))
    floor = torch.finfo(A.dtype).eps * max(_rms_scale(A) + abs(sigma),
                                           torch.finfo(A.dtype).tiny)
    diag = LU.diagonal()
    tiny = diag.abs() < floor
    LU.diagonal().copy_(torch.where(tiny, torch.where(diag < 0, -floor, floor), diag))
    return lambda b: torch.linalg.lu_solve(LU, piv, b[:, None])[:, 0]


def power_iteration(A, v0: torch.Tensor, *, max_iters: int = 1000,
                    tol: float = 1e-6) -> EigenpairResult:
    """Dominant eigenpair by power iteration; stops at ‖Av − λv‖ <= tol·|λ|."""
    A, v0, dense = _check_pair(A, v0)
    if not dense:
        return _iterate(A, v0, 0.0, tol, max_iters, lambda v, Av, lam: Av)
    return EigenpairResult(*_batched(
        lambda a, v: tuple(_iterate(lambda x: a @ x, v, 0.0, tol, max_iters,
                                    lambda v, Av, lam: Av)), A, v0))


def inverse_iteration(A: torch.Tensor, v0: torch.Tensor, *, shift: float = 0.0,
                      max_iters: int = 100, tol: float = 1e-6) -> EigenpairResult:
    """Eigenpair closest to `shift`: iterate with (A − σI)⁻¹, LU-factorized once."""
    if callable(A) and not isinstance(A, torch.Tensor):
        raise TypeError("`A` must be a dense array for inverse_iteration (it is factorized).")
    A, v0, _ = _check_pair(A, v0)

    def one(a, v):
        solve = _shifted_solver(a, float(shift))
        return tuple(_iterate(lambda x: a @ x, v, _rms_scale(a), tol, max_iters,
                              lambda v, Av, lam: solve(v)))

    return EigenpairResult(*_batched(one, A, v0))


def rayleigh_quotient_iteration(A: torch.Tensor, v0: torch.Tensor, *, max_iters: int = 50,
                                tol: float = 1e-6) -> EigenpairResult:
    """Rayleigh-quotient iteration for symmetric A (shift = vᵀAv, refactorized each step)."""
    if callable(A) and not isinstance(A, torch.Tensor):
        raise TypeError("`A` must be a dense array for rayleigh_quotient_iteration.")
    A, v0, _ = _check_pair(A, v0)

    def one(a, v):
        return tuple(_iterate(lambda x: a @ x, v, _rms_scale(a), tol, max_iters,
                              lambda v, Av, lam: _shifted_solver(a, float(lam))(v)))

    return EigenpairResult(*_batched(one, A, v0))


def deflated_power_iteration(A, V0: torch.Tensor, *, max_iters: int = 1000,
                             tol: float = 1e-6) -> EighResult:
    """Top-k eigenpairs by |λ| of symmetric A: power iteration + Hotelling deflation."""
    A, V0, dense = _check_pair(A, V0, "V0", v_dim=2)

    def one(matvec, V0):
        vals, vecs = [], []
        for j in range(V0.shape[-1]):
            def deflated(x, vals=tuple(vals), vecs=tuple(vecs)):
                y = matvec(x)
                for lam, v in zip(vals, vecs):
                    y = y - lam * torch.dot(v, x) * v
                return y

            start = V0[:, j]
            res = _iterate(deflated, start, 0.0, tol, max_iters, lambda v, Av, lam: Av)
            vals.append(res.value)
            vecs.append(res.vector)
        vals, vecs = torch.stack(vals), torch.stack(vecs, dim=1)
        order = torch.argsort(vals)
        return vals[order], vecs[:, order]

    if not dense:
        return EighResult(*one(A, V0))
    return EighResult(*_batched(lambda a, v: one(lambda x: a @ x, v), A, V0, core_v=2))


def generalized_eigh(A: torch.Tensor, B: torch.Tensor) -> EighResult:
    """A x = λ B x for symmetric A and SPD B via B = LLᵀ; B-orthonormal eigenvectors."""
    A, B = _as_float(A, "A"), _as_float(B, "B")
    for M, name in ((A, "A"), (B, "B")):
        if M.ndim < 2 or M.shape[-1] != M.shape[-2]:
            raise ValueError(f"`{name}` must be square (..., n, n); got shape {tuple(M.shape)}.")
    if A.shape[-1] != B.shape[-1]:
        raise ValueError(f"`B` has shape {tuple(B.shape)}, incompatible with `A` of shape "
                         f"{tuple(A.shape)}.")
    dtype = torch.promote_types(A.dtype, B.dtype)
    A, B = A.to(dtype), B.to(dtype)
    A = 0.5 * (A + A.mT)
    L, info = torch.linalg.cholesky_ex(0.5 * (B + B.mT))
    bad = (info != 0)[..., None, None]
    L = torch.where(bad, torch.full_like(L, float("nan")), L)
    # C = L⁻¹ A L⁻ᵀ without inverses: two triangular solves.
    left = torch.linalg.solve_triangular(L, A, upper=False)
    C = torch.linalg.solve_triangular(L, left.mT, upper=False)
    C = 0.5 * (C + C.mT)
    if bool(torch.isfinite(C).all()):
        w, Y = torch.linalg.eigh(C)
    else:
        w = torch.full(C.shape[:-1], float("nan"), dtype=dtype, device=C.device)
        Y = torch.full_like(C, float("nan"))
    X = torch.linalg.solve_triangular(L.mT, Y, upper=True)
    return EighResult(w, X)
