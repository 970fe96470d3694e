"""PyTorch twin of `jaxla.svd`: one-sided (Hestenes) Jacobi SVD.

Written for eager PyTorch: a plain cyclic-by-rows sweep over the column
pairs (p < q), each rotation applied to the whole batch at once, until no
pair has |cos∠(w_p, w_q)| above √m·eps (or `max_sweeps` is hit). Tall inputs
are first reduced to the square triangular factor of a QR factorization
(A = Q R, Jacobi on R: R V = W, U = Q W Σ⁻¹); wide ones go through Aᵀ.

References: Hestenes (1958); Demmel & Veselić, SIMAX 13 (1992); Golub & Van
Loan, Matrix Computations (4th ed.), section 8.6.4.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from torchbridge.linalg import _validate


class SVDResult(NamedTuple):
    """A = U @ diag(S) @ Vh; S descending. Shapes as in `torch.linalg.svd`."""

    U: torch.Tensor
    S: torch.Tensor
    Vh: torch.Tensor


def _jacobi(W: torch.Tensor, max_sweeps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Orthogonalize the columns of W (b, m, n) by plane rotations: returns (W V, V)."""
    b, m, n = W.shape
    W = W.clone()
    V = torch.eye(n, dtype=W.dtype, device=W.device).expand(b, n, n).clone()
    tol = math.sqrt(m) * torch.finfo(W.dtype).eps
    for _ in range(max_sweeps):
        rotated = False
        for p in range(n - 1):
            for q in range(p + 1, n):
                wp, wq = W[:, :, p], W[:, :, q]
                alpha = (wp * wp).sum(-1)
                beta = (wq * wq).sum(-1)
                gamma = (wp * wq).sum(-1)
                norm_prod = alpha.sqrt() * beta.sqrt()
                active = gamma.abs() > tol * norm_prod
                if not bool(active.any()):
                    continue
                rotated = True
                # tan θ is the small root of t² + 2ζt − 1 = 0, ζ = (β − α)/(2γ).
                zeta = (beta - alpha) / (2 * torch.where(active, gamma, torch.ones_like(gamma)))
                t = torch.where(zeta >= 0, 1.0, -1.0) / (zeta.abs() + torch.sqrt(1 + zeta * zeta))
                c = torch.where(active, 1 / torch.sqrt(1 + t * t), torch.ones_like(t))
                s = torch.where(active, c * t, torch.zeros_like(t))
                for M in (W, V):
                    xp, xq = M[:, :, p].clone(), M[:, :, q].clone()
                    M[:, :, p] = c[:, None] * xp - s[:, None] * xq
                    M[:, :, q] = s[:, None] * xp + c[:, None] * xq
        if not rotated:
            break
    return W, V


def _complete(B: torch.Tensor, keep: torch.Tensor, cols: int) -> torch.Tensor:
    """Replace the columns of B (b, rows, k) where `keep` is False (trailing) and
    append columns up to `cols`, so that the result is orthonormal."""
    b, rows, k = B.shape
    padded = torch.zeros(b, rows, rows, dtype=B.dtype, device=B.device)
    padded[:, :, :k] = torch.where(keep[:, None, :], B, torch.zeros_like(B))
    Q, R = torch.linalg.qr(padded, mode="complete")
    signs = torch.where(torch.diagonal(R, dim1=-2, dim2=-1) < 0, -1.0, 1.0).to(B.dtype)
    Q = Q * signs[:, None, :]
    out = Q[:, :, :cols].clone()
    keep_full = torch.zeros(b, cols, dtype=torch.bool, device=B.device)
    keep_full[:, :k] = keep
    return torch.where(keep_full[:, None, :], padded[:, :, :cols], out)


def _svd_tall(A: torch.Tensor, full_matrices: bool, max_sweeps: int) -> SVDResult:
    b, m, n = A.shape
    scale = A.abs().flatten(1).amax(-1)
    scale = torch.where((scale > 0) & torch.isfinite(scale), scale, torch.ones_like(scale))
    Q, R = torch.linalg.qr(A / scale[:, None, None], mode="reduced")
    W, V = _jacobi(R, max_sweeps)
    sigma = torch.linalg.vector_norm(W, dim=-2)
    sigma, order = torch.sort(sigma, dim=-1, descending=True)
    W = torch.gather(W, -1, order[:, None, :].expand(b, n, n))
    V = torch.gather(V, -1, order[:, None, :].expand(b, n, n))
    eps = torch.finfo(A.dtype).eps
    keep = sigma > n * eps * sigma[:, :1]
    Ur = W / torch.where(keep, sigma, torch.ones_like(sigma))[:, None, :]
    if not bool(keep.all()) and bool(torch.isfinite(sigma).all()):
        Ur = _complete(Ur, keep, n)
    U = Q @ Ur
    if full_matrices and m > n:
        U = _complete(U, torch.ones(b, n, dtype=torch.bool, device=A.device), m)
    return SVDResult(U, sigma * scale[:, None], V.transpose(-1, -2))


def svd(A: torch.Tensor, *, full_matrices: bool = False, max_sweeps: int = 30) -> SVDResult:
    """A = U diag(S) Vh by QR-preconditioned one-sided Jacobi (see the module docstring).

    Args:
      A: real tensor (..., m, n).
      full_matrices: square U (m, m) and Vh (n, n) when True.
      max_sweeps: bound on the Jacobi sweeps.

    Returns:
      `SVDResult(U, S, Vh)`, S descending; singular vectors of negligible σ
      (≤ min(m, n)·eps·σ_max) are an orthonormal completion, so U and Vh stay
      orthonormal for rank-deficient and zero inputs.
    """
    A = _validate.check_matrix(_validate.as_real(A, "A"), "A")
    if not isinstance(full_matrices, bool):
        raise TypeError(f"`full_matrices` must be a bool; got {type(full_matrices).__name__}.")
    max_sweeps = _validate.check_positive_int(max_sweeps, "max_sweeps")
    *batch, m, n = A.shape
    k = min(m, n)
    opts = dict(dtype=A.dtype, device=A.device)
    if k == 0:
        u_cols, v_rows = (m, n) if full_matrices else (0, 0)
        U = torch.eye(m, u_cols, **opts).expand(*batch, m, u_cols)
        Vh = torch.eye(v_rows, n, **opts).expand(*batch, v_rows, n)
        return SVDResult(U, torch.zeros(*batch, 0, **opts), Vh)
    flat = A.reshape(-1, m, n)
    if m >= n:
        U, S, Vh = _svd_tall(flat, full_matrices, max_sweeps)
    else:
        Ut, S, Vht = _svd_tall(flat.transpose(-1, -2), full_matrices, max_sweeps)
        U, Vh = Vht.transpose(-1, -2), Ut.transpose(-1, -2)
    return SVDResult(U.reshape(*batch, *U.shape[-2:]), S.reshape(*batch, k),
                     Vh.reshape(*batch, *Vh.shape[-2:]))
