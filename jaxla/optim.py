"""First-order optimization on quadratics: problems, GD, heavy ball, Nesterov, CG.

Conditioning sets the speed of learning: on a quadratic with Hessian spectrum in
[λ_min, λ_max], κ = λ_max/λ_min, gradient descent with α* = 2/(λ_min+λ_max)
contracts the error by (κ−1)/(κ+1) per step, Polyak's heavy ball by
(√κ−1)/(√κ+1), and CG reaches a relative residual ε in about (√κ/2)·ln(2/ε)
steps (at most n in exact arithmetic). `optimal_gd_params`,
`optimal_heavy_ball_params` and `spectral_bounds` (Lanczos) turn the spectrum
into those parameters without a dense eigendecomposition. `quadratic` and
`least_squares` build problems (loss, gradient, Hessian operator); the latter
can precompute the Gram matrix so a step costs O(d²) instead of O(n d). The
stochastic methods (`sgd`, `adam`, `minibatch_indices`) are in `jaxla.stochastic`.

Every method is one `lax.scan` (fixed `num_steps`) or `lax.while_loop` (CG,
bounded by `max_iters`), so it jits, vmaps and — for the scans — differentiates
end to end (`jax.grad` with respect to `step_size` is exact reverse-mode through
the trajectory). CG is wrapped in `lax.custom_linear_solve`: its gradient is the
implicit one (one more CG solve). Heavy ball and Nesterov use the
`torch.optim.SGD` parametrization (`momentum`, `nesterov=True`), as the twins
in `torchbridge.linalg.optim` do; for Nesterov the iterate is the point where
the gradient is evaluated. Losses are recorded only when a `loss_fn` is given.

References: Nocedal & Wright, Numerical Optimization (2nd ed.), §3.3, §5.1;
Polyak (1964), "Some methods of speeding up the convergence of iteration
methods"; Nesterov, Introductory Lectures on Convex Optimization (2004), §2.2;
Golub & Van Loan, Matrix Computations (4th ed.), §5.3 (normal equations).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.tree_util import Partial

from jaxla import _validate
from jaxla.krylov import lanczos_eigsh

_HIGHEST = lax.Precision.HIGHEST


def _safe_norm(g: jax.Array) -> jax.Array:
    """‖g‖₂ over all entries whose gradient at g = 0 is 0, not NaN.

    A trajectory that lands exactly on the optimum must not poison
    `jax.grad` of a loss that merely shares a scan with the norm.
    """
    sq = jnp.sum(g * g)
    positive = sq > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)


def _check_callable(fn: Any, name: str, *, optional: bool = False) -> None:
    if fn is None and optional:
        return
    if not callable(fn):
        raise TypeError(f"`{name}` must be callable; got {type(fn).__name__}.")


# ---------------------------------------------------------------------- problems
class Problem(NamedTuple):
    """A differentiable objective with its gradient and Hessian operator.

    Attributes:
      loss: x -> scalar loss.
      grad: x -> ∇loss(x), same shape as x.
      hessian: the (constant) Hessian: a dense (n, n) array, or a linear
        callable v -> H v (a `jax.tree_util.Partial`, so a `Problem` is a pytree
        that passes through `jax.jit`).
    """

    loss: Callable[[jax.Array], jax.Array]
    grad: Callable[[jax.Array], jax.Array]
    hessian: Any


def _quadratic_loss(matvec, b, x):
    return 0.5 * jnp.vdot(x, matvec(x)) - jnp.vdot(b, x)


def _quadratic_grad(matvec, b, x):
    return matvec(x) - b


def _dense_matvec(H, v):
    return jnp.matmul(H, v, precision=_HIGHEST)


def quadratic(H: Any, b: jax.Array) -> Problem:
    """The quadratic f(x) = ½ xᵀHx − bᵀx, ∇f = Hx − b, Hessian H.

    Minimized (for symmetric positive definite H) at x* = H⁻¹b with
    f* = −½ bᵀH⁻¹b; `conjugate_gradient(H, b)` computes x*.

    Args:
      H: symmetric (n, n) array, or a linear callable v -> H v (pass a
        `jax.tree_util.Partial` if the problem must cross a `jit` boundary).
      b: (n,) linear term.

    Returns:
      `Problem(loss, grad, hessian)`; `hessian` is `H` itself (dense or callable).
      Each loss/grad evaluation costs one product with H.
    """
    b = _validate.as_float_array(b, "b", allow_complex=False)
    _validate.check_vector(b, "b")
    if _validate.is_operator(H):
        matvec = H if isinstance(H, Partial) else Partial(H)
        hessian = H
    else:
        H = _validate.real_square(H, "H")
        if H.ndim != 2:
            raise ValueError(f"`H` must be a single (n, n) matrix; got shape {H.shape} "
                             "(use jax.vmap over problems for batches).")
        _validate.check_same_leading(H, "H", b, "b", axis_a=-1, axis_b=0)
        matvec = Partial(_dense_matvec, H)
        hessian = H
    return Problem(Partial(_quadratic_loss, matvec, b), Partial(_quadratic_grad, matvec, b),
                   hessian)


def _ls_loss(X, y, w):
    r = jnp.matmul(X, w, precision=_HIGHEST) - y
    return jnp.mean(r * r)


def _ls_grad(X, y, w):
    r = jnp.matmul(X, w, precision=_HIGHEST) - y
    return (2.0 / X.shape[0]) * jnp.matmul(r, X, precision=_HIGHEST)


def _ls_hvp(X, v):
    return (2.0 / X.shape[0]) * jnp.matmul(jnp.matmul(X, v, precision=_HIGHEST), X,
                                           precision=_HIGHEST)


def _gram_loss(H, b, const, w):
    # (1/n)‖Xw − y‖² = ½wᵀHw − bᵀw + ‖y‖²/n with H = (2/n)XᵀX, b = (2/n)Xᵀy.
    return jnp.vdot(w, 0.5 * _dense_matvec(H, w) - b) + const


def _check_least_squares(X: Any, y: Any) -> tuple[jax.Array, jax.Array]:
    X = _validate.as_float_array(X, "X", allow_complex=False)
    y = _validate.as_float_array(y, "y", allow_complex=False)
    _validate.check_ndim(X, "X", ndim=2)
    _validate.check_vector(y, "y", X.shape[0])
    return X, y


_LS_FORMS = ("auto", "gram", "data")


def least_squares(X: jax.Array, y: jax.Array, *, form: str = "auto") -> Problem:
    """Mean squared error L(w) = (1/n)‖Xw − y‖² of a linear model.

    ∇L = (2/n) Xᵀ(Xw − y), Hessian H = (2/n) XᵀX, minimizer `lstsq(X, y)`.
    Static `form` picks one of two equivalent representations:
    ``"data"`` reads X at every evaluation (two products, O(n d));
    ``"gram"`` forms G = XᵀX, c = Xᵀy, ‖y‖² once (O(n d²), BLAS-3), then
    ∇L = (2/n)(Gw − c) and L = (1/n)(wᵀGw − 2cᵀw + ‖y‖²) share one d×d product;
    ``"auto"`` (default) is ``"gram"`` when d <= n/4 (G then holds at most a
    quarter of X's memory and an evaluation does <= 1/8 of the data form's flops).

    Forming G (2nd² flops, BLAS-3 speed) pays for itself after about d/20
    evaluations (≈45 at 10,000×1,000 on CPU, benchmarks/optim.py). Accuracy:
    κ(G) = κ(X)², so the iterates' limit can be up to κ(X) times less accurate
    than with the data form (float32, κ(X) = 30: 9e-6 vs 3e-7 from `lstsq`), and
    the loss cancels against ‖y‖² (relative error ~ε‖y‖²/(n·L), not ~ε‖y‖/√(n·L)).
    Pass ``form="data"`` for few steps, ill-conditioned X, or accurate losses
    near a near-perfect fit in float32.

    Args:
      X: (n, d) design matrix.
      y: (n,) targets.
      form: ``"auto"``, ``"gram"`` or ``"data"`` (static).

    Returns:
      `Problem(loss, grad, hessian)`; `hessian` is a linear callable in both
      forms (v -> (2/n)Xᵀ(Xv), or v -> ((2/n)G) v).

    Reference: Golub & Van Loan (2013), §5.3.2 (normal equations).
    """
    _validate.check_choice(form, "form", _LS_FORMS)
    X, y = _check_least_squares(X, y)
    n, d = X.shape
    if form == "data" or (form == "auto" and 4 * d > n):
        return Problem(Partial(_ls_loss, X, y), Partial(_ls_grad, X, y), Partial(_ls_hvp, X))
    dtype = jnp.result_type(X.dtype, y.dtype)
    X, y = X.astype(dtype), y.astype(dtype)
    G = jnp.matmul(X.T, X, precision=_HIGHEST)
    H = (1.0 / n) * (G + G.T)  # (2/n)·G, exactly symmetric
    b = (2.0 / n) * jnp.matmul(y, X, precision=_HIGHEST)
    const = jnp.vdot(y, y) / n
    return Problem(Partial(_gram_loss, H, b, const), Partial(_quadratic_grad, Partial(
        _dense_matvec, H), b), Partial(_dense_matvec, H))


# -------------------------------------------------------------- deterministic
class OptimTrace(NamedTuple):
    """Result of a first-order method run for `num_steps` steps.

    Attributes:
      x: the final iterate x_T (T = num_steps), shape of `x0`.
      losses: (T,) loss at the iterate x_t where step t took its gradient,
        t = 0..T−1 (for `sgd`/`adam`: on that step's minibatch); `None` when no
        `loss_fn` was given. The final loss is `loss_fn(trace.x)`.
      grad_norms: (T,) ‖g_t‖₂ of the gradient step t used.
    """

    x: jax.Array
    losses: jax.Array | None
    grad_norms: jax.Array


def _run(update: Callable, state0: tuple, grad_fn: Callable, loss_fn: Callable | None,
         num_steps: int) -> OptimTrace:
    """Scan `state = update(state, g)` with g = grad_fn(state[0]); record the history."""
    dtype = state0[0].dtype

    def body(state, _):
        x = state[0]
        g = jnp.asarray(grad_fn(x)).astype(dtype)
        if g.shape != x.shape:
            raise ValueError(f"`grad_fn` must return an array of shape {x.shape}; "
                             f"got {g.shape}.")
        loss = jnp.asarray(loss_fn(x)) if loss_fn is not None else None
        if loss is not None and loss.shape != ():
            raise ValueError(f"`loss_fn` must return a scalar; got shape {loss.shape}.")
        return update(state, g), (loss, _safe_norm(g))

    state, (losses, grad_norms) = lax.scan(body, state0, None, length=num_steps)
    return OptimTrace(state[0], losses, grad_norms)


def _prepare(grad_fn, x0, num_steps, loss_fn, **scalars):
    _check_callable(grad_fn, "grad_fn")
    _check_callable(loss_fn, "loss_fn", optional=True)
    x0 = _validate.as_float_array(x0, "x0", allow_complex=False)
    _validate.check_positive_int(num_steps, "num_steps")
    cast = []
    for name, value in scalars.items():
        v = jnp.asarray(value)
        if v.shape != ():
            raise ValueError(f"`{name}` must be a scalar; got shape {v.shape}.")
        cast.append(v.astype(x0.dtype))
    return x0, cast


def gradient_descent(grad_fn: Callable[[jax.Array], jax.Array], x0: jax.Array, *,
                     step_size: Any, num_steps: int,
                     loss_fn: Callable[[jax.Array], jax.Array] | None = None) -> OptimTrace:
    """Gradient descent x_{t+1} = x_t − α ∇f(x_t) for `num_steps` steps.

    On a quadratic it converges iff 0 < α < 2/λ_max (it diverges, visibly, for
    larger α); α* = 2/(λ_min+λ_max) contracts the error by (κ−1)/(κ+1) per step
    (`optimal_gd_params`). Cost: `num_steps` gradient evaluations, one scan.

    Args:
      grad_fn: x -> ∇f(x) (e.g. `Problem.grad`, or `jax.grad(f)`).
      x0: initial point (any shape).
      step_size: α; may be traced (differentiable).
      num_steps: static number of steps T.
      loss_fn: optional x -> f(x), evaluated at each iterate for `losses`.

    Returns:
      `OptimTrace(x, losses, grad_norms)`; same as `torch.optim.SGD(lr=α)`.

    Reference: Nocedal & Wright (2006), §3.3.
    """
    x0, (alpha,) = _prepare(grad_fn, x0, num_steps, loss_fn, step_size=step_size)
    return _run(lambda s, g: (s[0] - alpha * g,), (x0,), grad_fn, loss_fn, num_steps)


def heavy_ball(grad_fn: Callable[[jax.Array], jax.Array], x0: jax.Array, *,
               step_size: Any, momentum: Any, num_steps: int,
               loss_fn: Callable[[jax.Array], jax.Array] | None = None) -> OptimTrace:
    """Polyak's heavy ball x_{t+1} = x_t − α∇f(x_t) + β(x_t − x_{t−1}), x_{−1} = x_0.

    Written as v_t = β v_{t−1} + ∇f(x_t), x_{t+1} = x_t − α v_t (v_{−1} = 0), which
    is the same sequence and exactly `torch.optim.SGD(lr=α, momentum=β)`. With
    α = 4/(√λ_max+√λ_min)², β = ((√κ−1)/(√κ+1))² it contracts at (√κ−1)/(√κ+1)
    on quadratics (`optimal_heavy_ball_params`); it is not globally convergent
    on general convex functions.

    Args: as `gradient_descent`, plus `momentum` β (traced ok).

    Returns:
      `OptimTrace`. Cost: `num_steps` gradient evaluations.

    Reference: Polyak (1964); Polyak, Introduction to Optimization (1987), §3.2.1.
    """
    x0, (alpha, beta) = _prepare(grad_fn, x0, num_steps, loss_fn, step_size=step_size,
                                 momentum=momentum)

    def update(state, g):
        x, v = state
        v = beta * v + g
        return x - alpha * v, v

    return _run(update, (x0, jnp.zeros_like(x0)), grad_fn, loss_fn, num_steps)


def nesterov(grad_fn: Callable[[jax.Array], jax.Array], x0: jax.Array, *,
             step_size: Any, momentum: Any, num_steps: int,
             loss_fn: Callable[[jax.Array], jax.Array] | None = None) -> OptimTrace:
    """Nesterov's accelerated gradient in look-ahead form.

    Classical form: y_t = x_t + β(x_t − x_{t−1}), x_{t+1} = y_t − α∇f(y_t). This
    function iterates the look-ahead points: v_t = β v_{t−1} + ∇f(p_t),
    p_{t+1} = p_t − α(∇f(p_t) + β v_t), p_0 = x_0 — exactly
    `torch.optim.SGD(lr=α, momentum=β, nesterov=True)` — so the recorded loss
    and gradient are at the point where the gradient is taken (one gradient per
    step). With α = 1/λ_max, β = (√κ−1)/(√κ+1) the error decays like
    (1 − 1/√κ)^t on quadratics, versus (1 − 2/κ)^t for gradient descent.

    Args: as `gradient_descent`, plus `momentum` β (traced ok).

    Returns:
      `OptimTrace` of the look-ahead iterates p_t.

    Reference: Nesterov (2004), §2.2.1; Sutskever et al. (2013), §2.
    """
    x0, (alpha, beta) = _prepare(grad_fn, x0, num_steps, loss_fn, step_size=step_size,
                                 momentum=momentum)

    def update(state, g):
        p, v = state
        v = beta * v + g
        return p - alpha * (g + beta * v), v

    return _run(update, (x0, jnp.zeros_like(x0)), grad_fn, loss_fn, num_steps)


# ------------------------------------------------------------ conjugate gradient
class CGInfo(NamedTuple):
    """Convergence report of `conjugate_gradient`.

    Attributes:
      num_iters: iterations (matrix-vector products after the first) performed.
      residual: ‖b − A x‖₂ / ‖b‖₂ from the CG recurrence (‖r‖ itself when b = 0).
      converged: True when residual <= tol.
    """

    num_iters: jax.Array
    residual: jax.Array
    converged: jax.Array


def _cg_loop(matvec, b, x0, max_iters, tol):
    """Hestenes–Stiefel CG for SPD A from x0; returns (x, CGInfo)."""
    dot = jnp.vdot
    bnorm = jnp.sqrt(dot(b, b))
    target = tol * bnorm
    r0 = b - matvec(x0)

    def cond(state):
        k, _, _, _, rs = state
        return (k < max_iters) & (jnp.sqrt(rs) > target)  # NaN compares False: stops

    def body(state):
        k, x, r, p, rs = state
        Ap = matvec(p)
        pAp = dot(p, Ap)
        # pᵀAp <= 0 means A is not positive definite: poison with NaN, which stops the loop.
        alpha = jnp.where(pAp > 0, rs / jnp.where(pAp > 0, pAp, 1.0), jnp.nan)
        x = x + alpha * p
        r = r - alpha * Ap
        rs_new = dot(r, r)
        p = r + (rs_new / rs) * p
        return k + 1, x, r, p, rs_new

    state = (jnp.asarray(0), x0, r0, r0, dot(r0, r0))
    k, x, _, _, rs = lax.while_loop(cond, body, state)
    rnorm = jnp.sqrt(rs)
    residual = rnorm / jnp.where(bnorm > 0, bnorm, 1.0)
    return x, CGInfo(k, residual, rnorm <= target)


def conjugate_gradient(A: Any, b: jax.Array, x0: jax.Array | None = None, *,
                       max_iters: int | None = None, tol: Any = 1e-6
                       ) -> tuple[jax.Array, CGInfo]:
    """Solve A x = b for symmetric positive definite A by conjugate gradients.

    Minimizes ½xᵀAx − bᵀx over growing Krylov spaces; the A-norm error after k
    steps is at most 2((√κ−1)/(√κ+1))^k of the initial one, and in exact
    arithmetic CG terminates in at most n steps. Stops when ‖r_k‖ <= tol·‖b‖
    (SciPy's `rtol` convention) or after `max_iters` iterations.

    Matrix-free: one product with A per iteration, O(n) extra memory. The solve
    is wrapped in `lax.custom_linear_solve`, so `jax.grad` through `x` (with
    respect to b or to arrays A closes over) is the implicit gradient computed by
    a second CG solve, and `jax.vmap` batches right-hand sides.

    Args:
      A: SPD (n, n) array, or a linear callable v -> A v.
      b: (n,) right-hand side.
      x0: optional (n,) starting point (default 0).
      max_iters: static iteration bound; default 10·n (as SciPy).
      tol: relative residual tolerance (traced ok).

    Returns:
      (x, `CGInfo(num_iters, residual, converged)`). Never raises on values: an
      indefinite A or NaN input gives NaN x and `converged=False`, quickly.

    Differences: `jax.scipy.sparse.linalg.cg` returns `(x, None)` with no report;
    SciPy returns an integer `info`.

    Reference: Hestenes & Stiefel (1952); Nocedal & Wright (2006), Alg. 5.2.
    """
    b = _validate.as_float_array(b, "b", allow_complex=False)
    _validate.check_vector(b, "b")
    n = b.shape[0]
    if _validate.is_operator(A):
        matvec = A
    else:
        A = _validate.as_float_array(A, "A", allow_complex=False)
        _validate.check_ndim(A, "A", ndim=2)
        _validate.check_square(A, "A")
        _validate.check_same_leading(A, "A", b, "b", axis_a=-1, axis_b=0)
        matvec = Partial(_dense_matvec, A)
    if x0 is None:
        x0 = jnp.zeros_like(b)
    else:
        x0 = _validate.as_float_array(x0, "x0", allow_complex=False)
        _validate.check_vector(x0, "x0", n)
        x0 = x0.astype(b.dtype)
    max_iters = 10 * n if max_iters is None else _validate.check_positive_int(
        max_iters, "max_iters", allow_zero=True)
    tol = jnp.asarray(tol, dtype=b.dtype)

    def solve(mv, rhs):  # also solves the adjoint system for gradients (from x0: harmless)
        return _cg_loop(mv, rhs, x0, max_iters, tol)

    return lax.custom_linear_solve(matvec, b, solve, symmetric=True, has_aux=True)


# ------------------------------------------------------- parameters from spectrum
class GDParams(NamedTuple):
    """Optimal gradient-descent parameters: `step_size` α* and contraction `rate`."""

    step_size: jax.Array
    rate: jax.Array


def _spectrum(lam_min: Any, lam_max: Any) -> tuple[jax.Array, jax.Array]:
    """(λ_min, λ_max) as floats, both NaN unless 0 < λ_min <= λ_max."""
    lo, hi = jnp.asarray(lam_min), jnp.asarray(lam_max)
    dtype = jnp.result_type(lo, hi, float)
    lo, hi = lo.astype(dtype), hi.astype(dtype)
    valid = (lo > 0) & (lo <= hi)
    return jnp.where(valid, lo, jnp.nan), jnp.where(valid, hi, jnp.nan)


def optimal_gd_params(lam_min: Any, lam_max: Any) -> GDParams:
    """α* = 2/(λ_min+λ_max) and its contraction rate (κ−1)/(κ+1), κ = λ_max/λ_min.

    α* minimizes max_λ |1 − αλ| over [λ_min, λ_max]. Arrays broadcast; values
    that are not 0 < λ_min <= λ_max give NaN (no raise, jit-safe).

    Reference: Nocedal & Wright (2006), §3.3; Polyak (1987), §1.4.
    """
    lo, hi = _spectrum(lam_min, lam_max)
    return GDParams(2.0 / (lo + hi), (hi - lo) / (hi + lo))


class HeavyBallParams(NamedTuple):
    """Optimal heavy-ball `step_size` α, `momentum` β and contraction `rate`."""

    step_size: jax.Array
    momentum: jax.Array
    rate: jax.Array


def optimal_heavy_ball_params(lam_min: Any, lam_max: Any) -> HeavyBallParams:
    """α = 4/(√λ_max+√λ_min)², β = ((√κ−1)/(√κ+1))², rate (√κ−1)/(√κ+1).

    With these, every eigen-mode of the heavy-ball iteration on a quadratic with
    spectrum in [λ_min, λ_max] has spectral radius √β (the two extreme modes are
    double, so the error behaves like t·rate^t there). Invalid spectra give NaN.

    Reference: Polyak (1964); Recht, CS726 lecture notes, "Heavy ball".
    """
    lo, hi = _spectrum(lam_min, lam_max)
    s_lo, s_hi = jnp.sqrt(lo), jnp.sqrt(hi)
    rate = (s_hi - s_lo) / (s_hi + s_lo)
    return HeavyBallParams(4.0 / (s_hi + s_lo) ** 2, rate * rate, rate)


class SpectralBounds(NamedTuple):
    """Estimated extreme eigenvalues `lam_min` <= `lam_max` of a symmetric operator."""

    lam_min: jax.Array
    lam_max: jax.Array


def spectral_bounds(A: Any, v0: jax.Array, *, num_iters: int = 50) -> SpectralBounds:
    """λ_min and λ_max of a symmetric A by Lanczos (`jaxla.lanczos_eigsh`).

    The extreme Ritz values of an m-step Krylov space converge first (Kaniel–Paige),
    so m = `num_iters` << n products with A give the spectrum's ends without a dense
    eigendecomposition; feed them to `optimal_gd_params` / `optimal_heavy_ball_params`.
    Ritz values lie inside [λ_min, λ_max], so the estimates err inward (the
    resulting α stays below 2/λ_max unless the estimate is badly off).

    Args:
      A: symmetric dense (..., n, n) or a linear callable (e.g. `Problem.hessian`).
      v0: nonzero start vector (n,) ((..., n) for dense batches).
      num_iters: static Krylov dimension m (clamped to n; exact when m = n).

    Returns:
      `SpectralBounds(lam_min, lam_max)`. Cost: m products with A + O(n m²).

    Reference: Saad (2011), §6.6; Golub & Van Loan (2013), §10.1.5.
    """
    num_iters = _validate.check_positive_int(num_iters, "num_iters")
    v0 = _validate.as_float_array(v0, "v0", allow_complex=False)
    _validate.check_ndim(v0, "v0", min_ndim=1)
    m = min(num_iters, v0.shape[-1])
    ritz = lanczos_eigsh(A, v0, m, num_iters=m).eigenvalues
    return SpectralBounds(ritz[..., 0], ritz[..., -1])
