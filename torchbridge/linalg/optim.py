"""PyTorch twins of `jaxla.optim`: problems, GD, heavy ball, Nesterov, CG, parameters.

Written from the update rules as plain tensor loops (so autograd can
differentiate a trajectory with respect to a `step_size` tensor), with
`torch.optim.SGD` semantics: heavy ball is `SGD(momentum=β)`, Nesterov is
`SGD(momentum=β, nesterov=True)` (the iterate is the look-ahead point). The
tests check the twins against `torch.optim` itself. `least_squares` offers the
same ``form="auto"|"gram"|"data"`` choice as JAX (Gram matrix formed once when
d <= n/4). SGD, Adam and minibatch indices are in `torchbridge.linalg.stochastic`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from torchbridge.linalg import _validate
from torchbridge.linalg.krylov import lanczos_eigsh


def _vector(x: Any, name: str, size: int | None = None) -> torch.Tensor:
    return _validate.check_vector(_validate.as_real(x, name), name, size)


# ---------------------------------------------------------------------- problems
class Problem(NamedTuple):
    """`loss(x)`, `grad(x)` and the Hessian (dense tensor or callable v -> H v)."""

    loss: Callable[[torch.Tensor], torch.Tensor]
    grad: Callable[[torch.Tensor], torch.Tensor]
    hessian: Any


def quadratic(H: Any, b: torch.Tensor) -> Problem:
    """f(x) = ½ xᵀHx − bᵀx, ∇f = Hx − b; `H` dense (n, n) or a callable."""
    b = _vector(b, "b")
    if isinstance(H, torch.Tensor):
        H = _validate.as_real(H, "H")
        if H.ndim != 2 or H.shape[0] != H.shape[1]:
            raise ValueError(f"`H` must be square (..., n, n); got shape {tuple(H.shape)}.")
        if H.shape[1] != b.shape[0]:
            raise ValueError(f"`b` has shape {tuple(b.shape)}, incompatible with `H` of "
                             f"shape {tuple(H.shape)}.")
        matvec = H.__matmul__
    else:
        _validate.check_callable(H, "H")
        matvec = H
    return Problem(lambda x: 0.5 * torch.dot(x, matvec(x)) - torch.dot(b, x),
                   lambda x: matvec(x) - b, H)


def _check_least_squares(X: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    X = _validate.check_ndim(_validate.as_real(X, "X"), "X", ndim=2)
    return X, _vector(y, "y", X.shape[0])


def least_squares(X: torch.Tensor, y: torch.Tensor, *, form: str = "auto") -> Problem:
    """L(w) = (1/n)‖Xw − y‖², ∇L = (2/n)Xᵀ(Xw − y), Hessian (2/n)XᵀX (as a callable).

    ``form="data"`` multiplies by X at every call (O(n d)); ``"gram"`` forms
    G = XᵀX, c = Xᵀy, ‖y‖² once (O(n d²)) and then evaluates ∇L = (2/n)(Gw − c),
    L = (1/n)(wᵀGw − 2cᵀw + ‖y‖²) in O(d²); ``"auto"`` picks ``"gram"`` when
    d <= n/4. The Gram loss loses accuracy by cancellation near a perfect fit.
    """
    if form not in ("auto", "gram", "data"):
        raise ValueError(f"`form` must be one of ('auto', 'gram', 'data'); got {form!r}.")
    X, y = _check_least_squares(X, y)
    n, d = X.shape
    if form == "data" or (form == "auto" and 4 * d > n):
        return Problem(lambda w: (X @ w - y).square().mean(),
                       lambda w: (2.0 / n) * (X.T @ (X @ w - y)),
                       lambda v: (2.0 / n) * (X.T @ (X @ v)))
    gram = X.T @ X
    hess = (gram + gram.T) / n  # (2/n) XᵀX, symmetrized against rounding
    lin = (2.0 / n) * (y @ X)
    offset = y.dot(y) / n
    return Problem(lambda w: w.dot(0.5 * (hess @ w) - lin) + offset,
                   lambda w: hess @ w - lin,
                   lambda v: hess @ v)


# -------------------------------------------------------------- deterministic
class OptimTrace(NamedTuple):
    """Final iterate `x`; per-step `losses` (None without `loss_fn`) and `grad_norms`."""

    x: torch.Tensor
    losses: torch.Tensor | None
    grad_norms: torch.Tensor


def _momentum_method(grad_fn, x0, step_size, momentum, num_steps, loss_fn, lookahead):
    _validate.check_callable(grad_fn, "grad_fn")
    if loss_fn is not None:
        _validate.check_callable(loss_fn, "loss_fn")
    x = _validate.as_real(x0, "x0")
    num_steps = _validate.check_positive_int(num_steps, "num_steps")
    buf = torch.zeros_like(x)
    losses, norms = [], []
    for _ in range(num_steps):
        g = grad_fn(x).to(x.dtype)
        if loss_fn is not None:
            losses.append(loss_fn(x))
        norms.append(torch.linalg.vector_norm(g))
        buf = momentum * buf + g
        x = x - step_size * (g + momentum * buf if lookahead else buf)
    return OptimTrace(x, torch.stack(losses) if loss_fn is not None else None,
                      torch.stack(norms))


def gradient_descent(grad_fn: Callable, x0: torch.Tensor, *, step_size: Any, num_steps: int,
                     loss_fn: Callable | None = None) -> OptimTrace:
    """x_{t+1} = x_t − α∇f(x_t), as `torch.optim.SGD(lr=α)`."""
    return _momentum_method(grad_fn, x0, step_size, 0.0, num_steps, loss_fn, False)


def heavy_ball(grad_fn: Callable, x0: torch.Tensor, *, step_size: Any, momentum: Any,
               num_steps: int, loss_fn: Callable | None = None) -> OptimTrace:
    """v_t = βv_{t−1} + ∇f(x_t), x_{t+1} = x_t − αv_t, as `SGD(lr=α, momentum=β)`."""
    return _momentum_method(grad_fn, x0, step_size, momentum, num_steps, loss_fn, False)


def nesterov(grad_fn: Callable, x0: torch.Tensor, *, step_size: Any, momentum: Any,
             num_steps: int, loss_fn: Callable | None = None) -> OptimTrace:
    """Look-ahead Nesterov, as `SGD(lr=α, momentum=β, nesterov=True)`."""
    return _momentum_method(grad_fn, x0, step_size, momentum, num_steps, loss_fn, True)


# ------------------------------------------------------------ conjugate gradient
class CGInfo(NamedTuple):
    """`num_iters`, relative recurrence `residual` ‖r‖/‖b‖, `converged`."""

    num_iters: torch.Tensor
    residual: torch.Tensor
    converged: torch.Tensor


def conjugate_gradient(A: Any, b: torch.Tensor, x0: torch.Tensor | None = None, *,
                       max_iters: int | None = None, tol: float = 1e-6
                       ) -> tuple[torch.Tensor, CGInfo]:
    """CG for SPD A (tensor or callable); stops at ‖r‖ <= tol‖b‖ or `max_iters` (10n)."""
    b = _vector(b, "b")
    n = b.shape[0]
    if isinstance(A, torch.Tensor):
        A = _validate.as_real(A, "A")
        if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[1] != n:
            raise ValueError(f"`A` must be square (n, n) with n = {n}; got shape "
                             f"{tuple(A.shape)}.")
        dense = A
        A = lambda v: dense @ v  # noqa: E731
    else:
        _validate.check_callable(A, "A")
    x = torch.zeros_like(b) if x0 is None else _vector(x0, "x0", n).to(b.dtype)
    if max_iters is None:
        max_iters = 10 * n
    else:
        max_iters = _validate.check_positive_int(max_iters, "max_iters", allow_zero=True)
    b_norm = torch.linalg.vector_norm(b)
    target = tol * b_norm
    r = b - A(x)
    p = r.clone()
    rr = torch.dot(r, r)
    k = 0
    while k < max_iters and bool(rr.sqrt() > target):
        Ap = A(p)
        curvature = torch.dot(p, Ap)
        if not bool(curvature > 0):  # not positive definite
            x = torch.full_like(x, math.nan)
            rr = torch.full_like(rr, math.nan)
            k += 1
            break
        step = rr / curvature
        x = x + step * p
        r = r - step * Ap
        rr_next = torch.dot(r, r)
        p = r + (rr_next / rr) * p
        rr = rr_next
        k += 1
    r_norm = rr.sqrt()
    residual = r_norm / b_norm if bool(b_norm > 0) else r_norm
    return x, CGInfo(torch.tensor(k), residual, r_norm <= target)


# ------------------------------------------------------- parameters from spectrum
class GDParams(NamedTuple):
    """Optimal gradient-descent `step_size` and contraction `rate`."""

    step_size: torch.Tensor
    rate: torch.Tensor


class HeavyBallParams(NamedTuple):
    """Optimal heavy-ball `step_size`, `momentum` and contraction `rate`."""

    step_size: torch.Tensor
    momentum: torch.Tensor
    rate: torch.Tensor


def _bounds(lam_min: Any, lam_max: Any) -> tuple[torch.Tensor, torch.Tensor]:
    lo, hi = torch.as_tensor(lam_min), torch.as_tensor(lam_max)
    dtype = torch.promote_types(torch.promote_types(lo.dtype, hi.dtype),
                                torch.get_default_dtype())
    lo, hi = lo.to(dtype), hi.to(dtype)
    ok = (lo > 0) & (lo <= hi)
    nan = torch.tensor(math.nan, dtype=dtype)
    return torch.where(ok, lo, nan), torch.where(ok, hi, nan)


def optimal_gd_params(lam_min: Any, lam_max: Any) -> GDParams:
    """step 2/(λmin+λmax), rate (κ−1)/(κ+1); NaN unless 0 < λmin <= λmax."""
    lo, hi = _bounds(lam_min, lam_max)
    return GDParams(2 / (lo + hi), (hi - lo) / (hi + lo))


def optimal_heavy_ball_params(lam_min: Any, lam_max: Any) -> HeavyBallParams:
    """step 4/(√λmax+√λmin)², momentum ((√κ−1)/(√κ+1))², rate (√κ−1)/(√κ+1)."""
    lo, hi = _bounds(lam_min, lam_max)
    kappa_root = (hi / lo).sqrt()
    rate = (kappa_root - 1) / (kappa_root + 1)
    return HeavyBallParams(4 / (hi.sqrt() + lo.sqrt()) ** 2, rate**2, rate)


class SpectralBounds(NamedTuple):
    """Estimated extreme eigenvalues `lam_min` <= `lam_max`."""

    lam_min: torch.Tensor
    lam_max: torch.Tensor


def spectral_bounds(A: Any, v0: torch.Tensor, *, num_iters: int = 50) -> SpectralBounds:
    """Extreme Ritz values of an m-step Lanczos run (m = min(num_iters, n))."""
    num_iters = _validate.check_positive_int(num_iters, "num_iters")
    v0 = _validate.check_ndim(_validate.as_real(v0, "v0"), "v0", min_ndim=1)
    m = min(num_iters, v0.shape[-1])
    ritz = lanczos_eigsh(A, v0, m, num_iters=m).eigenvalues
    return SpectralBounds(ritz[..., 0], ritz[..., -1])
