"""Cross-check cases for `jaxla.optim` and `jaxla.stochastic`.

Problems (both `least_squares` forms), GD/heavy ball/Nesterov, CG, parameters
from the spectrum, SGD/Adam. The float64 references are plain NumPy loops of the
textbook recurrences (heavy ball in Polyak's two-point form, Nesterov in its
y/x form), so they check the `torch.optim` parametrization the two twins share
as well as the numbers. Trajectories run on quadratics with a known spectrum in
[1, 10] (κ = 10), or on a 64×6 Gaussian least-squares problem (κ ≈ 4), where
each step's rounding error is damped by the contraction, and CG stops at a
relative residual of 1e-6 (float32) / 1e-13 (float64), leaving a forward error
below κ·tol: every case meets the default tolerances.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import jaxla
from torchbridge import linalg as tl
from torchbridge.crosscheck.registry import Case, register

_N, _STEPS = 12, 60
_KAPPA = 10.0
_ALPHA, _BETA = 0.15, 0.3


def _spd(rng, n=_N, lo=1.0, hi=_KAPPA):
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (Q * np.linspace(lo, hi, n)) @ Q.T


def _quadratic_inputs(rng):
    return _spd(rng), rng.standard_normal(_N), rng.standard_normal(_N)


def _ls_inputs(rng):
    X = rng.standard_normal((64, 6))
    return X, X @ rng.standard_normal(6) + 0.1 * rng.standard_normal(64), rng.standard_normal(6)


# ---------------------------------------------------------------------- problems
register(Case(
    name="quadratic/loss_grad",
    make_inputs=_quadratic_inputs,
    reference=lambda H, b, x: (0.5 * x @ H @ x - b @ x, H @ x - b),
    jax_fn=lambda H, b, x: (jaxla.quadratic(H, b).loss(x), jaxla.quadratic(H, b).grad(x)),
    torch_fn=lambda H, b, x: (tl.quadratic(H, b).loss(x), tl.quadratic(H, b).grad(x)),
))


def _ls_all(problem, w):
    return problem.loss(w), problem.grad(w), problem.hessian(w)


register(Case(
    name="least_squares/loss_grad_hvp",
    make_inputs=_ls_inputs,
    reference=lambda X, y, w: (np.mean((X @ w - y) ** 2), 2 / 64 * X.T @ (X @ w - y),
                               2 / 64 * X.T @ (X @ w)),
    jax_fn=lambda X, y, w: _ls_all(jaxla.least_squares(X, y), w),
    torch_fn=lambda X, y, w: _ls_all(tl.least_squares(X, y), w),
))


register(Case(
    name="least_squares/data_form",
    make_inputs=_ls_inputs,
    reference=lambda X, y, w: (np.mean((X @ w - y) ** 2), 2 / 64 * X.T @ (X @ w - y),
                               2 / 64 * X.T @ (X @ w)),
    jax_fn=lambda X, y, w: _ls_all(jaxla.least_squares(X, y, form="data"), w),
    torch_fn=lambda X, y, w: _ls_all(tl.least_squares(X, y, form="data"), w),
))


def _np_ls_heavy_ball(X, y, w0, step_size=0.2, steps=_STEPS):
    """Polyak's two-point heavy ball on (1/n)‖Xw − y‖², straight from the data."""
    prev, w = w0.copy(), w0.copy()
    losses, norms = [], []
    for _ in range(steps):
        r = X @ w - y
        g = 2 / len(y) * X.T @ r
        losses.append(np.mean(r**2))
        norms.append(np.linalg.norm(g))
        prev, w = w, w - step_size * g + _BETA * (w - prev)
    return w, np.array(losses), np.array(norms)


def _ls_heavy_ball(lib, X, y, w0):
    p = lib.least_squares(X, y, form="gram")
    return lib.heavy_ball(p.grad, w0, step_size=0.2, momentum=_BETA, num_steps=_STEPS,
                          loss_fn=p.loss)


register(Case(
    name="heavy_ball/least_squares_gram",
    make_inputs=_ls_inputs,
    reference=_np_ls_heavy_ball,
    jax_fn=lambda X, y, w0: _ls_heavy_ball(jaxla, X, y, w0),
    torch_fn=lambda X, y, w0: _ls_heavy_ball(tl, X, y, w0),
))


# ------------------------------------------------------------- trajectories
def _np_trajectory(H, b, x0, method):
    """Textbook recurrences; returns (x_T, losses, grad_norms) at the gradient points."""
    loss = lambda x: 0.5 * x @ H @ x - b @ x  # noqa: E731
    prev, x = x0.copy(), x0.copy()
    losses, norms = [], []
    for _ in range(_STEPS):
        if method == "nesterov":
            y = x + _BETA * (x - prev)  # the look-ahead point is where the gradient lives
        else:
            y = x
        g = H @ y - b
        losses.append(loss(y))
        norms.append(np.linalg.norm(g))
        if method == "gradient_descent":
            prev, x = x, x - _ALPHA * g
        elif method == "heavy_ball":
            prev, x = x, x - _ALPHA * g + _BETA * (x - prev)
        else:
            prev, x = x, y - _ALPHA * g
    final = x + _BETA * (x - prev) if method == "nesterov" else x
    return final, np.array(losses), np.array(norms)


for _method in ("gradient_descent", "heavy_ball", "nesterov"):
    _extra = {} if _method == "gradient_descent" else {"momentum": _BETA}
    register(Case(
        name=f"{_method}/quadratic",
        make_inputs=_quadratic_inputs,
        reference=lambda H, b, x0, m=_method: _np_trajectory(H, b, x0, m),
        jax_fn=lambda H, b, x0, m=_method, e=_extra: getattr(jaxla, m)(
            jaxla.quadratic(H, b).grad, x0, step_size=_ALPHA, num_steps=_STEPS,
            loss_fn=jaxla.quadratic(H, b).loss, **e),
        torch_fn=lambda H, b, x0, m=_method, e=_extra: getattr(tl, m)(
            tl.quadratic(H, b).grad, x0, step_size=_ALPHA, num_steps=_STEPS,
            loss_fn=tl.quadratic(H, b).loss, **e),
    ))


# ------------------------------------------------------------ conjugate gradient
def _cg_tol(b):
    return 1e-6 if b.dtype in (jnp.float32, np.float32) or str(b.dtype) == "torch.float32" \
        else 1e-13


register(Case(
    name="conjugate_gradient/spd",
    make_inputs=lambda rng: (_spd(rng, 40), rng.standard_normal(40)),
    reference=lambda A, b: (np.linalg.solve(A, b),),
    jax_fn=lambda A, b: (jaxla.conjugate_gradient(A, b, tol=_cg_tol(b))[0],),
    torch_fn=lambda A, b: (tl.conjugate_gradient(A, b, tol=_cg_tol(b))[0],),
))

register(Case(
    name="conjugate_gradient/matrix_free",
    make_inputs=lambda rng: (np.linspace(1.0, _KAPPA, 200), rng.standard_normal(200)),
    reference=lambda lam, b: (b / lam,),
    jax_fn=lambda lam, b: (jaxla.conjugate_gradient(
        jax.tree_util.Partial(jnp.multiply, lam), b, tol=_cg_tol(b))[0],),
    torch_fn=lambda lam, b: (tl.conjugate_gradient(lambda v: lam * v, b, tol=_cg_tol(b))[0],),
))


# ------------------------------------------------------- parameters from spectrum
def _spectrum_inputs(rng):
    del rng
    return np.array([0.5, 2.0, 1e-3]), np.array([8.0, 2.0, 10.0])


register(Case(
    name="optimal_gd_params/spectrum",
    make_inputs=_spectrum_inputs,
    reference=lambda lo, hi: (2 / (lo + hi), (hi / lo - 1) / (hi / lo + 1)),
    jax_fn=lambda lo, hi: tuple(jaxla.optimal_gd_params(lo, hi)),
    torch_fn=lambda lo, hi: tuple(tl.optimal_gd_params(lo, hi)),
))


def _hb_reference(lo, hi):
    root = np.sqrt(hi / lo)
    rate = (root - 1) / (root + 1)
    return 4 / (np.sqrt(hi) + np.sqrt(lo)) ** 2, rate**2, rate


register(Case(
    name="optimal_heavy_ball_params/spectrum",
    make_inputs=_spectrum_inputs,
    reference=_hb_reference,
    jax_fn=lambda lo, hi: tuple(jaxla.optimal_heavy_ball_params(lo, hi)),
    torch_fn=lambda lo, hi: tuple(tl.optimal_heavy_ball_params(lo, hi)),
))


register(Case(
    name="spectral_bounds/spd",
    make_inputs=lambda rng: (_spd(rng, 60, 0.5, 50.0), rng.standard_normal(60)),
    reference=lambda A, v0: tuple(np.linalg.eigvalsh(A)[[0, -1]]),
    # 40 Lanczos steps on n = 60 converge the extreme Ritz values to rounding level.
    jax_fn=lambda A, v0: tuple(jaxla.spectral_bounds(A, v0, num_iters=40)),
    torch_fn=lambda A, v0: tuple(tl.spectral_bounds(A, v0, num_iters=40)),
    # Eigenvalue errors are absolute, ~eps·‖A‖ = eps·λ_max, so λ_min's relative error is
    # ~eps·κ (κ = 100 here): the default tolerance scaled by κ.
    tol={"float32": 100 * 6.5e-6, "float64": 100 * 1.8e-12},
))

register(Case(
    name="spectral_bounds/least_squares_hessian",
    make_inputs=lambda rng: (rng.standard_normal((80, 10)), rng.standard_normal(10)),
    reference=lambda X, v0: tuple(np.linalg.eigvalsh(2 / 80 * X.T @ X)[[0, -1]]),
    jax_fn=lambda X, v0: tuple(jaxla.spectral_bounds(
        jaxla.least_squares(X, X[:, 0]).hessian, v0, num_iters=10)),
    torch_fn=lambda X, v0: tuple(tl.spectral_bounds(
        tl.least_squares(X, X[:, 0]).hessian, v0, num_iters=10)),
))

# -------------------------------------------------------------------- stochastic
register(Case(
    name="minibatch_indices/epochs",
    make_inputs=lambda rng: (),
    # Different generators, same law: each of the 3 epochs of 4 batches of 5 rows
    # covers rows 0..19 exactly once, so the sorted epochs agree exactly.
    reference=lambda: np.tile(np.arange(20), (3, 1)),
    jax_fn=lambda: jnp.sort(jaxla.minibatch_indices(
        jax.random.key(0), 20, batch_size=5, num_steps=12).reshape(3, 20), axis=-1),
    torch_fn=lambda: tl.minibatch_indices(
        20, batch_size=5, num_steps=12).reshape(3, 20).sort(-1).values,
    jit=False,
))


def _stochastic_inputs(rng):
    X, y, w0 = _ls_inputs(rng)
    batches = np.concatenate([rng.permutation(64).reshape(4, 16) for _ in range(10)])
    return X, y, w0, batches.astype(np.int32)


def _np_stochastic(X, y, w0, batches, method):
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    losses, norms = [], []
    for t, idx in enumerate(batches, start=1):
        r = X[idx] @ w - y[idx]
        g = 2 / len(idx) * X[idx].T @ r
        losses.append(np.mean(r**2))
        norms.append(np.linalg.norm(g))
        if method == "sgd":
            m = 0.5 * m + g
            w = w - 0.05 * m
        else:
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g**2
            w = w - 0.02 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return w, np.array(losses), np.array(norms)


register(Case(
    name="sgd/least_squares",
    make_inputs=_stochastic_inputs,
    reference=lambda X, y, w0, bt: _np_stochastic(X, y, w0, bt, "sgd"),
    jax_fn=lambda X, y, w0, bt: jaxla.sgd(None, X, y, w0, step_size=0.05, momentum=0.5,
                                          batches=bt),
    torch_fn=lambda X, y, w0, bt: tl.sgd(X, y, w0, step_size=0.05, momentum=0.5, batches=bt),
))

register(Case(
    name="adam/least_squares",
    make_inputs=_stochastic_inputs,
    reference=lambda X, y, w0, bt: _np_stochastic(X, y, w0, bt, "adam"),
    jax_fn=lambda X, y, w0, bt: jaxla.adam(None, X, y, w0, step_size=0.02, batches=bt),
    torch_fn=lambda X, y, w0, bt: tl.adam(X, y, w0, step_size=0.02, batches=bt),
))
