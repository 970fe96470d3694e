"""Tests for `jaxla.optim` and `jaxla.stochastic`: rates, CG, divergence, Gram form, SGD/Adam."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.tree_util import Partial

import jaxla
from torchbridge import testing


# ----------------------------------------------------------------------- helpers
def spd_with_spectrum(rng, eigenvalues):
    """Q diag(λ) Qᵀ with a random orthogonal Q: a matrix whose spectrum is known."""
    n = len(eigenvalues)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (Q * np.asarray(eigenvalues)) @ Q.T


def diagonal_operator(eigenvalues):
    """Matrix-free diag(λ) (Krylov and gradient methods are rotation invariant)."""
    return Partial(lambda lam, v: lam * v, jnp.asarray(eigenvalues))


def chebyshev_spectrum(n, kappa):
    """Eigenvalues at the Chebyshev points of [1, κ]: CG's worst case, tracks the bound."""
    i = np.arange(n)
    return (kappa + 1) / 2 + (kappa - 1) / 2 * np.cos(np.pi * (i + 0.5) / n)


def log_rate(norms, t1, t2):
    """Measured per-step log-contraction between steps t1 and t2."""
    norms = np.asarray(norms)
    return (math.log(norms[t2]) - math.log(norms[t1])) / (t2 - t1)


def first_below(norms, tol):
    norms = np.asarray(norms)
    hits = np.nonzero(norms <= tol * norms[0])[0]
    return int(hits[0]) if hits.size else None


# ---------------------------------------------------------------------- problems
def test_quadratic_loss_grad_hessian(rng, x64):
    H = spd_with_spectrum(rng, np.linspace(1.0, 10.0, 6))
    b, x = rng.standard_normal(6), rng.standard_normal(6)
    p = jaxla.quadratic(jnp.asarray(H), jnp.asarray(b))
    np.testing.assert_allclose(p.loss(x), 0.5 * x @ H @ x - b @ x, rtol=1e-13)
    np.testing.assert_allclose(p.grad(x), H @ x - b, rtol=1e-13)
    np.testing.assert_allclose(jax.grad(p.loss)(jnp.asarray(x)), p.grad(x), rtol=1e-12)
    np.testing.assert_array_equal(p.hessian, H)


def test_quadratic_accepts_matvec(rng, x64):
    lam = np.array([1.0, 2.0, 5.0])
    b, x = rng.standard_normal(3), rng.standard_normal(3)
    p = jaxla.quadratic(diagonal_operator(lam), jnp.asarray(b))
    np.testing.assert_allclose(p.grad(x), lam * x - b, rtol=1e-14)
    np.testing.assert_allclose(p.loss(x), 0.5 * x @ (lam * x) - b @ x, rtol=1e-14)


def test_least_squares_problem(rng, x64):
    X, y, w = rng.standard_normal((30, 4)), rng.standard_normal(30), rng.standard_normal(4)
    p = jaxla.least_squares(jnp.asarray(X), jnp.asarray(y))
    np.testing.assert_allclose(p.loss(w), np.mean((X @ w - y) ** 2), rtol=1e-13)
    np.testing.assert_allclose(p.grad(w), 2 / 30 * X.T @ (X @ w - y), rtol=1e-12)
    np.testing.assert_allclose(jax.grad(p.loss)(jnp.asarray(w)), p.grad(w), rtol=1e-12)
    np.testing.assert_allclose(p.hessian(w), 2 / 30 * X.T @ X @ w, rtol=1e-12)


def regression_with_condition(rng, n, d, kappa_x, noise=0.3):
    """X = U diag(σ) Vᵀ with σ from √n to √n·κ_X (κ(XᵀX) = κ_X²), y = X w + noise."""
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X = (U * (math.sqrt(n) * np.geomspace(1.0, kappa_x, d))) @ V.T
    return X, X @ rng.standard_normal(d) + noise * rng.standard_normal(n)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_least_squares_gram_and_data_forms_agree(rng, dtype):
    kappa_x = 30.0
    X, y = regression_with_condition(rng, 200, 10, kappa_x)
    w = rng.standard_normal(10)
    ref = (np.mean((X @ w - y) ** 2), 2 / 200 * X.T @ (X @ w - y), 2 / 200 * X.T @ (X @ w))
    # Forming G = XᵀX rounds at ε‖X‖², so relative errors scale with κ(G) = κ(X)²
    # (a bound; float64 lands at ~1e-15 and float32 at ~1e-7 here).
    tol = testing.tolerance(dtype, kappa_x**2).rtol
    with jaxla.enable_x64(dtype == "float64"):
        Xj, yj, wj = (jnp.asarray(a, dtype) for a in (X, y, w))
        gram = [f(wj) for f in jaxla.least_squares(Xj, yj, form="gram")]  # eager
        data = [f(wj) for f in jaxla.least_squares(Xj, yj, form="data")]

        @jax.jit
        def auto_and_grads(X, y, w):
            # The Gram loss is differentiable and its gradients are the data form's,
            # also with respect to X (meta-learning through the problem).
            grads = [jax.grad(lambda X, w, f=f: jaxla.least_squares(X, y, form=f).loss(w),
                              argnums=(0, 1))(X, w) for f in ("gram", "data")]
            return [f(w) for f in jaxla.least_squares(X, y)], grads

        auto, (grads_gram, grads_data) = auto_and_grads(Xj, yj, wj)
    for values in (gram, data, auto):
        for got, want in zip(values, ref):
            assert got.dtype == jnp.dtype(dtype)
            assert testing.relative_error(got, want) < tol
    for got, want in zip(gram, data):
        assert testing.relative_error(got, want) < tol
    testing.assert_close(grads_gram[1], data[1], rtol=tol)
    for got, want in zip(grads_gram, grads_data):
        assert testing.relative_error(got, want) < tol


def test_least_squares_auto_form_stores_the_gram_matrix_only_when_d_le_n_over_4(rng):
    def leaf_shapes(n, d):
        p = jaxla.least_squares(jnp.ones((n, d)), jnp.ones(n))
        return {leaf.shape for leaf in jax.tree_util.tree_leaves(p)}

    assert (10, 10) in leaf_shapes(40, 10) and (40, 10) not in leaf_shapes(40, 10)
    assert (39, 10) in leaf_shapes(39, 10) and (10, 10) not in leaf_shapes(39, 10)
    with pytest.raises(ValueError, match="`form` must be one of"):
        jaxla.least_squares(jnp.ones((4, 2)), jnp.ones(4), form="normal")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("method", ["gradient_descent", "heavy_ball"])
def test_gram_and_data_trajectories_agree(rng, dtype, method):
    kappa_x = 30.0
    X, y = regression_with_condition(rng, 200, 10, kappa_x)
    lam = np.linalg.eigvalsh(2 / 200 * X.T @ X)
    if method == "gradient_descent":
        opts = {"step_size": jaxla.optimal_gd_params(lam[0], lam[-1]).step_size}
    else:
        hb = jaxla.optimal_heavy_ball_params(lam[0], lam[-1])
        opts = {"step_size": hb.step_size, "momentum": hb.momentum}
    with jaxla.enable_x64(dtype == "float64"):
        Xj, yj = jnp.asarray(X, dtype), jnp.asarray(y, dtype)
        traces = []
        for form in ("gram", "data"):
            p = jaxla.least_squares(Xj, yj, form=form)
            traces.append(jax.jit(lambda w0, p=p: getattr(jaxla, method)(
                p.grad, w0, num_steps=400, loss_fn=p.loss, **opts))(jnp.zeros(10, dtype)))
    gram, data = traces
    # Iterates: each step's gradient error (~ε‖X‖²‖w‖ in both forms) is damped by the
    # contraction, so the trajectories differ by ~ε·κ(G) relative.
    tol = testing.tolerance(dtype, kappa_x**2).rtol
    assert testing.relative_error(gram.x, data.x) < tol
    assert testing.relative_error(gram.grad_norms[:50], data.grad_norms[:50]) < tol
    # Losses: the Gram loss cancels against ‖y‖²/n, so its relative error is
    # ~ε‖y‖²/(n·L) (measured 5e-3 in float32, 1e-11 in float64 at heavy ball's
    # noise floor L* ≈ 0.09, where ‖y‖²/n ≈ 800).
    floor = float(np.min(np.asarray(data.losses, np.float64)))
    rel = np.abs(np.asarray(gram.losses, np.float64) / np.asarray(data.losses, np.float64) - 1)
    y_sq = float(y @ y) / 200
    assert np.all(rel < 30 * testing.eps(dtype) * y_sq / floor)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    if method == "heavy_ball":  # converged: both forms at lstsq's solution
        for trace in traces:
            assert testing.relative_error(trace.x, w_star) < tol


def test_problem_is_a_pytree_that_crosses_jit(rng):
    X, y = jnp.asarray(rng.standard_normal((20, 3))), jnp.asarray(rng.standard_normal(20))
    p = jaxla.least_squares(X, y)
    run = jax.jit(jaxla.gradient_descent, static_argnames="num_steps")
    a = run(p.grad, jnp.zeros(3), step_size=0.1, num_steps=5, loss_fn=p.loss)
    b = jaxla.gradient_descent(p.grad, jnp.zeros(3), step_size=0.1, num_steps=5,
                               loss_fn=p.loss)
    testing.assert_close(a.x, b.x)
    testing.assert_close(a.losses, b.losses)


# ------------------------------------------------------------- rates vs theory
@pytest.mark.parametrize("kappa,num_steps", [(1e2, 1000), (1e4, 5000)])
def test_gradient_descent_optimal_rate_matches_theory(rng, x64, kappa, num_steps):
    # b = 0 puts the optimum at 0, so the gradient has no cancellation floor and the
    # asymptotic rate can be read off over many decades.
    H = spd_with_spectrum(rng, np.linspace(1.0, kappa, 20))
    p = jaxla.quadratic(jnp.asarray(H), jnp.zeros(20))
    params = jaxla.optimal_gd_params(1.0, kappa)
    assert float(params.rate) == pytest.approx((kappa - 1) / (kappa + 1), rel=1e-14)
    trace = jaxla.gradient_descent(p.grad, jnp.asarray(rng.standard_normal(20)),
                                   step_size=params.step_size, num_steps=num_steps)
    measured = log_rate(trace.grad_norms, num_steps // 5, num_steps - 1)
    assert measured == pytest.approx(math.log(float(params.rate)), rel=0.05)


@pytest.mark.parametrize("kappa", [1e2, 1e4])
def test_heavy_ball_optimal_rate_matches_theory(rng, x64, kappa):
    H = spd_with_spectrum(rng, np.linspace(1.0, kappa, 20))
    p = jaxla.quadratic(jnp.asarray(H), jnp.zeros(20))
    params = jaxla.optimal_heavy_ball_params(1.0, kappa)
    root = math.sqrt(kappa)
    assert float(params.rate) == pytest.approx((root - 1) / (root + 1), rel=1e-13)
    # The extreme modes are Jordan blocks (error ~ t·rate^t); reading the rate over
    # 230 e-folds keeps that factor's bias below 1%.
    num_steps = int(230 / -math.log(float(params.rate)))
    trace = jaxla.heavy_ball(p.grad, jnp.asarray(rng.standard_normal(20)),
                             step_size=params.step_size, momentum=params.momentum,
                             num_steps=num_steps)
    measured = log_rate(trace.grad_norms, num_steps // 2, num_steps - 1)
    assert measured == pytest.approx(math.log(float(params.rate)), rel=0.05)
    gd_rate = float(jaxla.optimal_gd_params(1.0, kappa).rate)
    assert measured < 5 * math.log(gd_rate)  # heavy ball is far faster than GD


def test_nesterov_and_gd_scale_as_sqrt_kappa_and_kappa(x64):
    # Steps to shrink the gradient 1e6-fold: Nesterov ~ √κ, gradient descent ~ κ.
    steps = {}
    for kappa in (1e2, 1e4):
        lam = np.linspace(1.0, kappa, 50)
        p = jaxla.quadratic(diagonal_operator(lam), jnp.zeros(50))
        x0 = jnp.asarray(1 / lam)  # ∇f(x0) = 1: every mode starts with the same weight
        root = math.sqrt(kappa)
        nest = jaxla.nesterov(p.grad, x0, step_size=1 / kappa,
                              momentum=(root - 1) / (root + 1), num_steps=int(40 * root))
        gd = jaxla.gradient_descent(p.grad, x0, step_size=jaxla.optimal_gd_params(
            1.0, kappa).step_size, num_steps=int(8 * kappa))
        steps[kappa] = first_below(nest.grad_norms, 1e-6), first_below(gd.grad_norms, 1e-6)
    (n2, g2), (n4, g4) = steps[1e2], steps[1e4]
    assert 7 < n4 / n2 < 14, steps  # √(κ ratio) = 10
    assert 70 < g4 / g2 < 140, steps  # κ ratio = 100
    for kappa, (n, g) in steps.items():
        assert n <= 1.5 * math.sqrt(kappa) * math.log(1e6), steps  # (1 − 1/√κ)^t
        assert g >= 0.5 * kappa / 2 * math.log(1e6), steps  # ((κ−1)/(κ+1))^t
    assert n4 * 20 < g4, steps


@pytest.mark.parametrize("kappa", [1e2, 1e4])
def test_cg_iterations_grow_as_sqrt_kappa(rng, x64, kappa):
    lam = chebyshev_spectrum(1000, kappa)
    b = jnp.asarray(rng.standard_normal(1000))
    x, info = jaxla.conjugate_gradient(diagonal_operator(lam), b, tol=1e-6)
    bound = math.sqrt(kappa) / 2 * math.log(2 / 1e-6)  # Chebyshev bound, relative residual
    assert bool(info.converged) and float(info.residual) <= 1e-6
    assert 0.5 * bound <= int(info.num_iters) <= bound + 1, (int(info.num_iters), bound)
    np.testing.assert_allclose(lam * np.asarray(x), b, atol=2e-6 * np.linalg.norm(b))


@pytest.mark.parametrize("kappa", [1e2, 1e4])
def test_cg_finishes_within_n_iterations_in_float64(rng, x64, kappa):
    n = 30
    H = spd_with_spectrum(rng, np.linspace(1.0, kappa, n))
    b = rng.standard_normal(n)
    x, info = jaxla.conjugate_gradient(jnp.asarray(H), jnp.asarray(b), tol=1e-8)
    assert bool(info.converged)
    assert int(info.num_iters) <= n
    x_true = np.linalg.solve(H, b)
    assert testing.relative_error(x, x_true) < 1e-8 * kappa


def test_gradient_descent_diverges_above_two_over_lambda_max(rng, x64):
    lam_max = 10.0
    H = spd_with_spectrum(rng, np.linspace(1.0, lam_max, 8))
    p = jaxla.quadratic(jnp.asarray(H), jnp.asarray(rng.standard_normal(8)))
    x0 = jnp.asarray(rng.standard_normal(8))
    alpha = 1.1 * 2 / lam_max
    bad = jaxla.gradient_descent(p.grad, x0, step_size=alpha, num_steps=200, loss_fn=p.loss)
    assert np.all(np.isfinite(bad.grad_norms))  # shown, not masked to NaN
    assert bad.grad_norms[-1] > 1e10 * bad.grad_norms[0]
    growth = math.exp(log_rate(bad.grad_norms, 100, 199))
    assert growth == pytest.approx(abs(1 - alpha * lam_max), rel=0.01)  # = 1.2
    good = jaxla.gradient_descent(p.grad, x0, step_size=0.95 * 2 / lam_max, num_steps=600)
    assert good.grad_norms[-1] < 1e-8 * good.grad_norms[0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradient_descent_on_least_squares_reaches_lstsq(rng, dtype):
    X = rng.standard_normal((200, 10))
    y = X @ rng.standard_normal(10) + 0.3 * rng.standard_normal(200)
    with jaxla.enable_x64(dtype == "float64"):
        Xj, yj = jnp.asarray(X, dtype), jnp.asarray(y, dtype)
        lam = np.linalg.eigvalsh(2 / 200 * X.T @ X)
        step = jaxla.optimal_gd_params(lam[0], lam[-1]).step_size
        p = jaxla.least_squares(Xj, yj)
        trace = jaxla.gradient_descent(p.grad, jnp.zeros(10, dtype), step_size=step,
                                       num_steps=300, loss_fn=p.loss)
        expected = jnp.linalg.lstsq(Xj, yj)[0]
        kappa = lam[-1] / lam[0]
        assert trace.x.dtype == jnp.dtype(dtype)
        testing.assert_close(trace.x, expected, rtol=testing.tolerance(dtype, kappa).rtol)
        assert np.all(np.diff(np.asarray(trace.losses, np.float64)) <= 1e-6)


# ------------------------------------------------- same sequence as the classics
def test_heavy_ball_and_nesterov_follow_their_classical_recurrences(rng, x64):
    H = spd_with_spectrum(rng, np.linspace(1.0, 50.0, 6))
    b, x0 = rng.standard_normal(6), rng.standard_normal(6)
    p = jaxla.quadratic(jnp.asarray(H), jnp.asarray(b))
    alpha, beta, T = 0.02, 0.7, 25
    # Polyak: x_{t+1} = x_t − α∇f(x_t) + β(x_t − x_{t−1}), x_{−1} = x_0.
    prev, x = x0.copy(), x0.copy()
    for _ in range(T):
        prev, x = x, x - alpha * (H @ x - b) + beta * (x - prev)
    hb = jaxla.heavy_ball(p.grad, jnp.asarray(x0), step_size=alpha, momentum=beta,
                          num_steps=T)
    np.testing.assert_allclose(hb.x, x, rtol=1e-12)
    # Nesterov: y_t = x_t + β(x_t − x_{t−1}), x_{t+1} = y_t − α∇f(y_t); we return y_T.
    prev, x = x0.copy(), x0.copy()
    for _ in range(T):
        y = x + beta * (x - prev)
        prev, x = x, y - alpha * (H @ y - b)
    nest = jaxla.nesterov(p.grad, jnp.asarray(x0), step_size=alpha, momentum=beta,
                          num_steps=T)
    np.testing.assert_allclose(nest.x, x + beta * (x - prev), rtol=1e-12)


# -------------------------------------------------------------- transformations
@pytest.mark.parametrize("method", ["gradient_descent", "heavy_ball", "nesterov"])
def test_grad_of_final_loss_wrt_step_size_matches_finite_differences(rng, x64, method):
    H = spd_with_spectrum(rng, np.linspace(1.0, 20.0, 5))
    p = jaxla.quadratic(jnp.asarray(H), jnp.asarray(rng.standard_normal(5)))
    x0 = jnp.asarray(rng.standard_normal(5))
    extra = {} if method == "gradient_descent" else {"momentum": 0.5}
    fn = getattr(jaxla, method)

    def final_loss(alpha):
        return p.loss(fn(p.grad, x0, step_size=alpha, num_steps=30, **extra).x)

    alpha, h = 0.04, 1e-6
    fd = (final_loss(alpha + h) - final_loss(alpha - h)) / (2 * h)
    exact = jax.jit(jax.grad(final_loss))(alpha)
    assert abs(float(fd)) > 1e-3
    np.testing.assert_allclose(exact, fd, rtol=1e-6)


def test_grad_wrt_momentum_and_jit_vmap(rng, x64):
    H = spd_with_spectrum(rng, np.linspace(1.0, 20.0, 5))
    p = jaxla.quadratic(jnp.asarray(H), jnp.asarray(rng.standard_normal(5)))
    x0 = jnp.asarray(rng.standard_normal(5))

    def final_loss(beta):
        return p.loss(jaxla.heavy_ball(p.grad, x0, step_size=0.05, momentum=beta,
                                       num_steps=20).x)

    fd = (final_loss(0.3 + 1e-6) - final_loss(0.3 - 1e-6)) / 2e-6
    np.testing.assert_allclose(jax.grad(final_loss)(0.3), fd, rtol=1e-6)
    alphas = jnp.array([0.01, 0.05, 0.09])

    def run(a):
        return jaxla.gradient_descent(p.grad, x0, step_size=a, num_steps=15, loss_fn=p.loss)

    batched, single = jax.jit(jax.vmap(run))(alphas), jax.jit(run)
    for i, a in enumerate(alphas):
        one = single(a)
        np.testing.assert_allclose(batched.x[i], one.x, rtol=1e-12)
        np.testing.assert_allclose(batched.losses[i], one.losses, rtol=1e-12)


def test_trace_fields_and_losses_optional(rng):
    p = jaxla.quadratic(jnp.eye(3) * 2.0, jnp.ones(3))
    trace = jaxla.nesterov(p.grad, jnp.zeros(3), step_size=0.1, momentum=0.5, num_steps=7)
    assert trace.losses is None and trace.grad_norms.shape == (7,)
    np.testing.assert_allclose(trace.grad_norms[0], math.sqrt(3), rtol=1e-6)
    trace = jaxla.heavy_ball(p.grad, jnp.zeros(3), step_size=0.1, momentum=0.5, num_steps=7,
                             loss_fn=p.loss)
    assert trace.losses.shape == (7,) and trace.losses[0] == 0.0
    assert trace.x.dtype == jnp.float32


def test_grad_is_finite_when_the_trajectory_hits_the_optimum(x64):
    p = jaxla.quadratic(jnp.eye(2), jnp.ones(2))  # α = 1 lands exactly on x* = 1
    g = jax.grad(lambda a: p.loss(jaxla.gradient_descent(
        p.grad, jnp.zeros(2), step_size=a, num_steps=3).x))(1.0)
    assert np.isfinite(g)


# ------------------------------------------------------------ conjugate gradient
def test_cg_jit_vmap_grad_and_x0(rng, x64):
    H = spd_with_spectrum(rng, np.linspace(1.0, 30.0, 8))
    B = rng.standard_normal((3, 8))
    Hj = jnp.asarray(H)
    xs, info = jax.jit(jax.vmap(lambda b: jaxla.conjugate_gradient(Hj, b, tol=1e-12)))(
        jnp.asarray(B))
    np.testing.assert_allclose(xs, np.linalg.solve(H, B.T).T, rtol=1e-9)
    assert info.converged.shape == (3,) and bool(jnp.all(info.converged))
    # Implicit gradient: d/db of cᵀA⁻¹b is A⁻¹c.
    c = rng.standard_normal(8)
    g = jax.grad(lambda b: jnp.dot(c, jaxla.conjugate_gradient(Hj, b, tol=1e-12)[0]))(
        jnp.asarray(B[0]))
    np.testing.assert_allclose(g, np.linalg.solve(H, c), rtol=1e-8)
    gA = jax.grad(lambda A: jnp.dot(c, jaxla.conjugate_gradient(A, jnp.asarray(B[0]),
                                                                tol=1e-12)[0]))(Hj)
    x = np.linalg.solve(H, B[0])
    np.testing.assert_allclose(gA, -np.outer(np.linalg.solve(H, c), x), rtol=1e-7,
                               atol=1e-10)
    x_true = np.linalg.solve(H, B[0])
    _, warm = jaxla.conjugate_gradient(Hj, jnp.asarray(B[0]), jnp.asarray(x_true), tol=1e-8)
    assert int(warm.num_iters) == 0 and bool(warm.converged)


def test_cg_reports_instead_of_raising(x64):
    A = jnp.diag(jnp.array([1.0, 2.0, 3.0, 4.0]))
    _, info = jaxla.conjugate_gradient(A, jnp.array([1.0, 1.0, 1.0, jnp.nan]), max_iters=100)
    assert not bool(info.converged) and int(info.num_iters) == 0
    x, info = jaxla.conjugate_gradient(jnp.diag(jnp.array([1.0, -1.0, 2.0])),
                                       jnp.array([1.0, 1.0, 0.0]), max_iters=100)
    assert not bool(info.converged) and int(info.num_iters) <= 3 and np.isnan(x).all()
    _, info = jaxla.conjugate_gradient(A * 1e3 + jnp.ones((4, 4)), jnp.ones(4) / 3,
                                       max_iters=1, tol=1e-14)
    assert int(info.num_iters) == 1 and not bool(info.converged)
    x, info = jaxla.conjugate_gradient(A, jnp.zeros(4))
    assert bool(info.converged) and int(info.num_iters) == 0 and not np.any(x)


# ------------------------------------------------------------------- parameters
def test_optimal_params_formulas_and_invalid_spectra():
    gd = jax.jit(jaxla.optimal_gd_params)(1.0, 9.0)
    np.testing.assert_allclose(gd, (0.2, 0.8), rtol=1e-6)
    hb = jaxla.optimal_heavy_ball_params(jnp.array([1.0, 4.0]), 16.0)
    np.testing.assert_allclose(hb.step_size, [4 / 25, 4 / 36], rtol=1e-6)
    np.testing.assert_allclose(hb.rate, [0.6, 1 / 3], rtol=1e-6)
    np.testing.assert_allclose(hb.momentum, [0.36, 1 / 9], rtol=1e-6)
    for lo, hi in ((0.0, 1.0), (-1.0, 2.0), (3.0, 2.0), (jnp.nan, 1.0)):
        assert np.isnan(jaxla.optimal_gd_params(lo, hi)).all()
        assert np.isnan(jaxla.optimal_heavy_ball_params(lo, hi)).all()



def test_spectral_bounds_dense_and_matrix_free(rng, x64):
    lam = np.linspace(1.0, 1e4, 100)
    H = spd_with_spectrum(rng, lam)
    v0 = jnp.asarray(rng.standard_normal(100))
    bounds = jax.jit(jaxla.spectral_bounds)
    lo, hi = bounds(jnp.asarray(H), v0)
    # Ritz values lie inside the spectrum; the extremes converge first.
    assert 1.0 <= float(lo) < 1.01 and 0.9999 * 1e4 < float(hi) <= 1e4 * (1 + 1e-12)
    # num_iters > n clamps to m = n, where the Ritz values are the eigenvalues.
    exact = jax.jit(functools.partial(jaxla.spectral_bounds, num_iters=500))
    np.testing.assert_allclose(exact(diagonal_operator(lam), v0), [1.0, 1e4], rtol=1e-10)


def test_parameters_from_spectral_bounds_give_the_optimal_rate(rng, x64):
    # End to end on least squares: Lanczos on the matrix-free Hessian -> α*, β* ->
    # measured contraction equal to the theory computed from the exact spectrum.
    X = rng.standard_normal((400, 30)) * np.geomspace(1.0, 10.0, 30)
    p = jaxla.least_squares(jnp.asarray(X), jnp.zeros(400))
    lam = np.linalg.eigvalsh(2 / 400 * X.T @ X)
    lo, hi = jax.jit(jaxla.spectral_bounds)(p.hessian, jnp.ones(30))  # m clamps to n = 30
    np.testing.assert_allclose([lo, hi], lam[[0, -1]], rtol=1e-8)
    params = jaxla.optimal_heavy_ball_params(lo, hi)
    steps = int(230 / -math.log(float(params.rate)))
    trace = jaxla.heavy_ball(p.grad, jnp.asarray(rng.standard_normal(30)),
                             step_size=params.step_size, momentum=params.momentum,
                             num_steps=steps)
    theory = math.log(float(jaxla.optimal_heavy_ball_params(lam[0], lam[-1]).rate))
    assert log_rate(trace.grad_norms, steps // 2, steps - 1) == pytest.approx(theory, rel=0.05)

# ------------------------------------------------------------------- stochastic
def test_minibatch_indices_are_epoch_permutations():
    idx = jaxla.minibatch_indices(jax.random.key(0), 10, batch_size=3, num_steps=7)
    assert idx.shape == (7, 3) and idx.dtype == jnp.int32
    epochs = np.asarray(idx[:6]).reshape(2, 9)  # 3 batches of 3 per epoch (drop_last)
    for epoch in epochs:
        assert len(set(epoch.tolist())) == 9 and epoch.max() < 10
    again = jaxla.minibatch_indices(jax.random.key(0), 10, batch_size=3, num_steps=7)
    np.testing.assert_array_equal(idx, again)
    other = jaxla.minibatch_indices(jax.random.key(1), 10, batch_size=3, num_steps=7)
    assert not np.array_equal(idx, other)


def _regression(rng, n=256, d=8):
    X = rng.standard_normal((n, d))
    return X, X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)


@pytest.mark.parametrize("method", ["sgd", "adam"])
def test_stochastic_methods_approach_lstsq_and_replay_batches(rng, x64, method):
    X, y = _regression(rng)
    Xj, yj, w0 = jnp.asarray(X), jnp.asarray(y), jnp.zeros(8)
    fn = getattr(jaxla, method)
    opts = {"step_size": 0.05}
    key = jax.random.key(3)
    trace = jax.jit(lambda k: fn(k, Xj, yj, w0, batch_size=32, num_steps=300, **opts))(key)
    w_star = jnp.linalg.lstsq(Xj, yj)[0]
    assert testing.relative_error(trace.x, w_star) < 0.03
    assert trace.losses.shape == trace.grad_norms.shape == (300,)
    assert float(jnp.mean(trace.losses[-50:])) < 0.01 * float(trace.losses[0])
    batches = jaxla.minibatch_indices(key, 256, batch_size=32, num_steps=300)
    replay = jax.jit(lambda b: fn(None, Xj, yj, w0, batches=b, **opts))(batches)
    np.testing.assert_allclose(replay.x, trace.x, rtol=1e-12)


def test_sgd_matches_explicit_loop_and_adam_first_step(rng, x64):
    X, y = _regression(rng, n=40, d=3)
    batches = np.asarray(jaxla.minibatch_indices(jax.random.key(0), 40, batch_size=8,
                                                 num_steps=12))
    w, v = np.zeros(3), np.zeros(3)
    for idx in batches:
        g = 2 / 8 * X[idx].T @ (X[idx] @ w - y[idx])
        v = 0.9 * v + g
        w = w - 0.01 * v
    trace = jaxla.sgd(None, jnp.asarray(X), jnp.asarray(y), jnp.zeros(3), step_size=0.01,
                      momentum=0.9, batches=batches)
    np.testing.assert_allclose(trace.x, w, rtol=1e-12)
    # Adam's bias-corrected first step moves every coordinate by η·g/(|g| + ε) ≈ η·sign(g).
    one = jaxla.adam(None, jnp.asarray(X), jnp.asarray(y), jnp.zeros(3), batches=batches[:1])
    g = 2 / 8 * X[batches[0]].T @ (X[batches[0]] @ np.zeros(3) - y[batches[0]])
    np.testing.assert_allclose(one.x, -1e-3 * np.sign(g), rtol=1e-6)


def test_stochastic_grad_wrt_step_size(rng, x64):
    X, y = _regression(rng, n=40, d=3)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    batches = jaxla.minibatch_indices(jax.random.key(0), 40, batch_size=8, num_steps=20)
    loss = jaxla.least_squares(Xj, yj).loss

    def final(a):
        return loss(jaxla.adam(None, Xj, yj, jnp.zeros(3), step_size=a, batches=batches).x)

    value = jax.jit(final)
    fd = (value(0.05 + 1e-6) - value(0.05 - 1e-6)) / 2e-6
    np.testing.assert_allclose(jax.grad(final)(0.05), fd, rtol=1e-5)


# ------------------------------------------------------------------ bad inputs
def test_bad_inputs_raise_clear_errors():
    p = jaxla.quadratic(jnp.eye(3), jnp.ones(3))
    X, y = jnp.ones((6, 2)), jnp.ones(6)
    with pytest.raises(ValueError, match="`H` must be square"):
        jaxla.quadratic(jnp.ones((3, 2)), jnp.ones(3))
    with pytest.raises(ValueError, match="`b` has shape"):
        jaxla.quadratic(jnp.eye(3), jnp.ones(4))
    with pytest.raises(TypeError, match="`b` must have a floating"):
        jaxla.quadratic(jnp.eye(2), np.array(["a", "b"]))
    with pytest.raises(ValueError, match="`y` must have length 6"):
        jaxla.least_squares(X, jnp.ones(5))
    with pytest.raises(TypeError, match="`grad_fn` must be callable"):
        jaxla.gradient_descent(jnp.ones(3), jnp.ones(3), step_size=0.1, num_steps=3)
    with pytest.raises(TypeError, match="`loss_fn` must be callable"):
        jaxla.heavy_ball(p.grad, jnp.ones(3), step_size=0.1, momentum=0.1, num_steps=3,
                         loss_fn=1.0)
    with pytest.raises(ValueError, match="`num_steps` must be >= 1"):
        jaxla.nesterov(p.grad, jnp.ones(3), step_size=0.1, momentum=0.1, num_steps=0)
    with pytest.raises(TypeError, match="`num_steps` must be a static Python int"):
        jaxla.gradient_descent(p.grad, jnp.ones(3), step_size=0.1, num_steps=2.5)
    with pytest.raises(ValueError, match="`step_size` must be a scalar"):
        jaxla.gradient_descent(p.grad, jnp.ones(3), step_size=jnp.ones(3), num_steps=2)
    with pytest.raises(ValueError, match="`grad_fn` must return an array of shape"):
        jaxla.gradient_descent(lambda x: x[:2], jnp.ones(3), step_size=0.1, num_steps=2)
    with pytest.raises(ValueError, match="`loss_fn` must return a scalar"):
        jaxla.gradient_descent(p.grad, jnp.ones(3), step_size=0.1, num_steps=2,
                               loss_fn=lambda x: x)
    with pytest.raises(ValueError, match="`x0` must have length 3"):
        jaxla.conjugate_gradient(jnp.eye(3), jnp.ones(3), jnp.ones(2))
    with pytest.raises(ValueError, match="`A` must be square"):
        jaxla.conjugate_gradient(jnp.ones((3, 2)), jnp.ones(3))
    with pytest.raises(ValueError, match="`max_iters` must be >= 0"):
        jaxla.conjugate_gradient(jnp.eye(3), jnp.ones(3), max_iters=-1)
    with pytest.raises(TypeError, match="`key` must be a jax.random key"):
        jaxla.sgd(None, X, y, jnp.zeros(2), step_size=0.1, batch_size=2, num_steps=3)
    with pytest.raises(ValueError, match="`batch_size` and `num_steps` are required"):
        jaxla.adam(jax.random.key(0), X, y, jnp.zeros(2))
    with pytest.raises(ValueError, match="`batch_size` must be <= num_examples"):
        jaxla.minibatch_indices(jax.random.key(0), 6, batch_size=7, num_steps=2)
    with pytest.raises(ValueError, match="`num_steps`=4 disagrees with `batches`"):
        jaxla.sgd(None, X, y, jnp.zeros(2), step_size=0.1, num_steps=4,
                  batches=jnp.zeros((3, 2), jnp.int32))
    with pytest.raises(TypeError, match="`batches` must be an integer array"):
        jaxla.adam(None, X, y, jnp.zeros(2), batches=jnp.zeros((3, 2)))
    with pytest.raises(TypeError, match="`num_iters` must be a static Python int"):
        jaxla.spectral_bounds(jnp.eye(3), jnp.ones(3), num_iters=None)
    with pytest.raises(ValueError, match="`v0` has shape"):
        jaxla.spectral_bounds(jnp.eye(3), jnp.ones(4))
    with pytest.raises(ValueError, match="`w0` must have length 2"):
        jaxla.adam(None, X, y, jnp.zeros(3), batches=jnp.zeros((3, 2), jnp.int32))
