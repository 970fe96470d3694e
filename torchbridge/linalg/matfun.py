"""PyTorch twins of `jaxla.matfun`: matrix exponential and f(A) for symmetric A.

`expm` follows Higham (2005), Algorithm 2.3, in eager PyTorch: the degree of
the diagonal Padé approximant and the number of squarings are decided in
Python from the 1-norms (one decision per batch: the largest degree any
member needs; each member still gets its own number of squarings). In
float32 the single-precision θ table (degrees 3, 5, 7) is used.

References: N. J. Higham, SIAM J. Matrix Anal. Appl. 26(4) (2005);
N. J. Higham, Functions of Matrices (2008), section 4.5.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from torchbridge.linalg import _validate

# Higham (2005), Table 2.3 (double) and section 3 (single precision).
_THETAS = {
    torch.float64: ((3, 1.495585217958292e-2), (5, 2.539398330063230e-1),
                    (7, 9.504178996162932e-1), (9, 2.097847961257068e0),
                    (13, 5.371920351148152e0)),
    torch.float32: ((3, 4.258730016922831e-1), (5, 1.880152677804762e0),
                    (7, 3.925724783138660e0)),
}


def _pade_numerator(m: int) -> list[float]:
    """c_j = C(m, j) (2m − j)! / (2m)!, rescaled so that c_m = 1."""
    raw = [math.comb(m, j) * math.factorial(2 * m - j) / math.factorial(2 * m)
           for j in range(m + 1)]
    return [r / raw[m] for r in raw]


def _pade(X: torch.Tensor, m: int) -> torch.Tensor:
    """[m/m] Padé approximant q(X)⁻¹ p(X), p(X) = even + odd, q(X) = even − odd."""
    c = _pade_numerator(m)
    eye = torch.eye(X.shape[-1], dtype=X.dtype, device=X.device)
    X2 = X @ X
    if m == 13:
        X4 = X2 @ X2
        X6 = X4 @ X2
        odd = X @ (X6 @ (c[13] * X6 + c[11] * X4 + c[9] * X2)
                   + c[7] * X6 + c[5] * X4 + c[3] * X2 + c[1] * eye)
        even = (X6 @ (c[12] * X6 + c[10] * X4 + c[8] * X2)
                + c[6] * X6 + c[4] * X4 + c[2] * X2 + c[0] * eye)
    else:
        even = c[0] * eye.expand_as(X)
        odd_inner = c[1] * eye.expand_as(X)
        power = eye.expand_as(X)
        for j in range(1, m // 2 + 1):
            power = power @ X2
            even = even + c[2 * j] * power
            odd_inner = odd_inner + c[2 * j + 1] * power
        odd = X @ odd_inner
    return torch.linalg.solve(even - odd, even + odd)


def expm(A: torch.Tensor, *, max_squarings: int = 32) -> torch.Tensor:
    """Matrix exponential by Padé scaling and squaring (Higham 2005).

    Args:
      A: real square tensor (..., n, n).
      max_squarings: members needing more squarings return NaN.

    Returns:
      exp(A), same shape and dtype; NaN for non-finite input.
    """
    A = _validate.check_square(_validate.as_real(A, "A"), "A")
    max_squarings = _validate.check_positive_int(max_squarings, "max_squarings",
                                                 allow_zero=True)
    n = A.shape[-1]
    if n == 0:
        return A.clone()
    X = A.reshape(-1, n, n)
    table = _THETAS[torch.float64 if X.dtype == torch.float64 else torch.float32]
    norms = torch.linalg.matrix_norm(X.detach(), ord=1)  # decisions only, no autograd
    finite = torch.isfinite(norms)
    norms = torch.where(finite, norms, torch.zeros_like(norms))
    biggest = float(norms.max())
    degree = next((m for m, theta in table if biggest <= theta), table[-1][0])
    theta_top = table[-1][1]
    squarings = torch.clamp(torch.ceil(torch.log2(norms / theta_top)), min=0).to(torch.int64)
    if degree != table[-1][0]:
        squarings = torch.zeros_like(squarings)
    R = _pade(X / torch.pow(2.0, squarings).to(X.dtype)[:, None, None], degree)
    for i in range(int(squarings.max()) if squarings.numel() else 0):
        if i >= max_squarings:
            break
        R = torch.where((squarings > i)[:, None, None], R @ R, R)
    bad = (squarings > max_squarings) | ~finite
    R = torch.where(bad[:, None, None], torch.full_like(R, math.nan), R)
    return R.reshape(A.shape)


def funm_eigh(A: torch.Tensor, f: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """f(A) = Q f(Λ) Qᵀ for symmetric A (its symmetric part is used)."""
    A = _validate.check_square(_validate.as_real(A, "A"), "A")
    _validate.check_callable(f, "f")
    lam, Q = torch.linalg.eigh(0.5 * (A + A.transpose(-1, -2)))
    f_lam = f(lam)
    if f_lam.shape != lam.shape:
        raise ValueError(f"`f` must map the eigenvalues (shape {tuple(lam.shape)}) "
                         f"elementwise; got shape {tuple(f_lam.shape)}.")
    return (Q * f_lam.unsqueeze(-2)) @ Q.transpose(-1, -2)
