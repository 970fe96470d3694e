"""PyTorch twins of `jaxla.krylov`: `lanczos_eigsh` and `arnoldi`.

Three-term Lanczos / Arnoldi with modified Gram-Schmidt, each step
reorthogonalized a second time against the whole basis (Saad, Numerical
Methods for Large Eigenvalue Problems, 2nd ed., §6.2, §6.6). On breakdown the
next off-diagonal is 0 and the basis continues from a random vector (fixed
seed) orthogonalized against it. Batched dense inputs run one at a time.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from torchbridge.linalg.eigen import EighResult, _batched, _check_pair


def _mgs(basis: list[torch.Tensor], w: torch.Tensor, coeffs: torch.Tensor | None = None):
    for i, q in enumerate(basis):
        h = torch.dot(q, w)
        w = w - h * q
        if coeffs is not None:
            coeffs[i] += h
    return w


def _new_direction(basis, w, scale, gen, n, dtype):
    """Normalize w, or (breakdown) return a fresh orthonormal direction and beta = 0."""
    eps = torch.finfo(dtype).eps
    beta = torch.linalg.vector_norm(w)
    if beta > eps * scale:
        return w / beta, beta
    r = torch.randn(n, generator=gen, dtype=torch.float64).to(dtype)
    r = r / torch.linalg.vector_norm(r)
    r = _mgs(basis, _mgs(basis, r))
    rn = torch.linalg.vector_norm(r)
    q = r / rn if rn > math.sqrt(eps) else torch.zeros_like(r)
    return q, torch.zeros((), dtype=dtype)


def _arnoldi_one(matvec, v0, m):
    n, dtype = v0.shape[0], v0.dtype
    gen = torch.Generator().manual_seed(0)
    basis = [v0 / torch.linalg.vector_norm(v0)]
    H = torch.zeros(m + 1, m, dtype=dtype)
    for j in range(m):
        w = matvec(basis[j])
        scale = torch.linalg.vector_norm(w)
        w = _mgs(basis, w, H[:, j])
        w = _mgs(basis, w, H[:, j])
        q, H[j + 1, j] = _new_direction(basis, w, scale, gen, n, dtype)
        basis.append(q)
    return torch.stack(basis, dim=1), H


def _lanczos_one(matvec, v0, k, m, which):
    n, dtype = v0.shape[0], v0.dtype
    gen = torch.Generator().manual_seed(0)
    basis = [v0 / torch.linalg.vector_norm(v0)]
    alpha, beta = [], []
    for j in range(m):
        q = basis[j]
        w = matvec(q)
        scale = torch.linalg.vector_norm(w)
        alpha.append(torch.dot(q, w))
        w = w - alpha[-1] * q - (beta[-1] * basis[j - 1] if j > 0 else 0.0)
        w = _mgs(basis, _mgs(basis, w))  # full reorthogonalization
        if j == m - 1:
            break
        q_next, b = _new_direction(basis, w, scale, gen, n, dtype)
        beta.append(b)
        basis.append(q_next)
    a = torch.stack(alpha)
    T = torch.diag(a)
    if beta:
        b = torch.stack(beta)
        T = T + torch.diag(b, 1) + torch.diag(b, -1)
    theta, S = torch.linalg.eigh(T)
    sel = slice(m - k, m) if which == "largest" else slice(0, k)
    return theta[sel], torch.stack(basis, dim=1) @ S[:, sel]


def lanczos_eigsh(A, v0: torch.Tensor, k: int, *, num_iters: int | None = None,
                  which: str = "largest") -> EighResult:
    """k extreme eigenpairs of symmetric A by Lanczos with full reorthogonalization."""
    if which not in ("largest", "smallest"):
        raise ValueError(f"`which` must be one of ('largest', 'smallest'); got {which!r}.")
    A, v0, dense = _check_pair(A, v0)
    n = v0.shape[-1]
    if not isinstance(k, int) or k < 1 or k > n:
        raise ValueError(f"`k` must be an int with 1 <= k <= n = {n}; got {k!r}.")
    m = min(n, max(3 * k, 30)) if num_iters is None else int(num_iters)
    if not k <= m <= n:
        raise ValueError(f"`num_iters` must satisfy k <= num_iters <= n = {n}; got {m}.")
    if not dense:
        return EighResult(*_lanczos_one(A, v0, k, m, which))
    return EighResult(*_batched(lambda a, v: _lanczos_one(lambda x: a @ x, v, k, m, which),
                                A, v0))


class ArnoldiResult(NamedTuple):
    """A Q[:, :m] = Q H with Q (n, m+1) orthonormal and H (m+1, m) upper Hessenberg."""

    Q: torch.Tensor
    H: torch.Tensor


def arnoldi(A, v0: torch.Tensor, num_iters: int) -> ArnoldiResult:
    """Arnoldi iteration with reorthogonalization: Krylov basis Q and Hessenberg H."""
    A, v0, dense = _check_pair(A, v0)
    n = v0.shape[-1]
    if not isinstance(num_iters, int) or not 1 <= num_iters <= n:
        raise ValueError(f"`num_iters` must be an int with 1 <= num_iters <= n = {n}; "
                         f"got {num_iters!r}.")
    if not dense:
        return ArnoldiResult(*_arnoldi_one(A, v0, num_iters))
    return ArnoldiResult(*_batched(lambda a, v: _arnoldi_one(lambda x: a @ x, v, num_iters),
                                   A, v0))
