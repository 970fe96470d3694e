"""Tests for `torchbridge.linalg.optim`/`.stochastic`: torch.optim parity, rates, CG, JAX parity."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jaxla
from torchbridge import linalg as tl
from torchbridge import testing


def spd(rng, eigenvalues):
    n = len(eigenvalues)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return torch.from_numpy((Q * np.asarray(eigenvalues)) @ Q.T)


def _torch_optim_trajectory(grad_fn, x0, num_steps, make_optimizer):
    """Reference: the same problem driven by a real `torch.optim` optimizer."""
    x = x0.clone().requires_grad_(True)
    opt = make_optimizer([x])
    for _ in range(num_steps):
        opt.zero_grad()
        x.grad = grad_fn(x.detach())
        opt.step()
    return x.detach()


@pytest.mark.parametrize("method,kwargs", [
    ("gradient_descent", {}),
    ("heavy_ball", {"momentum": 0.8}),
    ("nesterov", {"momentum": 0.8}),
])
def test_momentum_methods_match_torch_optim_sgd(rng, method, kwargs):
    H = spd(rng, np.linspace(1.0, 30.0, 7))
    p = tl.quadratic(H, torch.from_numpy(rng.standard_normal(7)))
    x0 = torch.from_numpy(rng.standard_normal(7))
    ours = getattr(tl, method)(p.grad, x0, step_size=0.03, num_steps=40, loss_fn=p.loss,
                               **kwargs)
    expected = _torch_optim_trajectory(p.grad, x0, 40, lambda params: torch.optim.SGD(
        params, lr=0.03, momentum=kwargs.get("momentum", 0.0),
        nesterov=method == "nesterov"))
    testing.assert_close(ours.x, expected, rtol=1e-12)
    assert ours.losses.shape == ours.grad_norms.shape == (40,)
    testing.assert_close(ours.losses[0], p.loss(x0), rtol=1e-14)


@pytest.mark.parametrize("method,kwargs", [
    ("gradient_descent", {}),
    ("heavy_ball", {"momentum": 0.6}),
    ("nesterov", {"momentum": 0.6}),
])
def test_same_trajectory_as_jax(rng, method, kwargs):
    H, b, x0 = rng.standard_normal((6, 6)), rng.standard_normal(6), rng.standard_normal(6)
    H = H @ H.T + np.eye(6)
    with jaxla.enable_x64():
        pj = jaxla.quadratic(jnp.asarray(H), jnp.asarray(b))
        tj = getattr(jaxla, method)(pj.grad, jnp.asarray(x0), step_size=0.02, num_steps=30,
                                    loss_fn=pj.loss, **kwargs)
        pt = tl.quadratic(torch.from_numpy(H), torch.from_numpy(b))
        tt = getattr(tl, method)(pt.grad, torch.from_numpy(x0), step_size=0.02, num_steps=30,
                                 loss_fn=pt.loss, **kwargs)
        for a, c in zip(tj, tt):
            testing.assert_close(a, c, rtol=1e-11)


def test_optimal_rates_and_divergence(rng):
    kappa = 100.0
    H = spd(rng, np.linspace(1.0, kappa, 12))
    p = tl.quadratic(H, torch.zeros(12, dtype=torch.float64))
    x0 = torch.from_numpy(rng.standard_normal(12))
    gd = tl.optimal_gd_params(1.0, kappa)
    trace = tl.gradient_descent(p.grad, x0, step_size=gd.step_size, num_steps=800)
    measured = (trace.grad_norms[-1] / trace.grad_norms[200]).log() / 599
    assert float(measured) == pytest.approx(math.log(float(gd.rate)), rel=0.05)
    hb = tl.optimal_heavy_ball_params(1.0, kappa)
    steps = int(230 / -math.log(float(hb.rate)))
    trace = tl.heavy_ball(p.grad, x0, step_size=hb.step_size, momentum=hb.momentum,
                          num_steps=steps)
    half = steps // 2
    measured = (trace.grad_norms[-1] / trace.grad_norms[half]).log() / (steps - 1 - half)
    assert float(measured) == pytest.approx(math.log(float(hb.rate)), rel=0.05)
    bad = tl.gradient_descent(p.grad, x0, step_size=1.1 * 2 / kappa, num_steps=150)
    assert torch.isfinite(bad.grad_norms).all()
    assert bad.grad_norms[-1] > 1e10 * bad.grad_norms[0]


def test_optimal_params_values_and_nan():
    gd = tl.optimal_gd_params(torch.tensor(1.0), torch.tensor(9.0))
    testing.assert_close(torch.stack(gd), torch.tensor([0.2, 0.8]))
    hb = tl.optimal_heavy_ball_params(4.0, 16.0)
    testing.assert_close(torch.stack(hb), torch.tensor([4 / 36, 1 / 9, 1 / 3]))
    assert torch.isnan(torch.stack(tl.optimal_gd_params(2.0, 1.0))).all()
    assert torch.isnan(torch.stack(tl.optimal_heavy_ball_params(0.0, 1.0))).all()


def test_gd_on_least_squares_reaches_lstsq(rng):
    X = torch.from_numpy(rng.standard_normal((150, 6)))
    y = X @ torch.from_numpy(rng.standard_normal(6)) + 0.1
    p = tl.least_squares(X, y)
    lam = torch.linalg.eigvalsh(2 / 150 * X.T @ X)
    step = tl.optimal_gd_params(lam[0], lam[-1]).step_size
    trace = tl.gradient_descent(p.grad, torch.zeros(6, dtype=torch.float64), step_size=step,
                                num_steps=300)
    expected = torch.linalg.lstsq(X, y.unsqueeze(-1)).solution.squeeze(-1)
    testing.assert_close(trace.x, expected, rtol=1e-10)
    testing.assert_close(p.hessian(expected), 2 / 150 * X.T @ (X @ expected), rtol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_least_squares_gram_form_matches_data_form_and_jax(rng, dtype):
    n, d, kappa_x = 200, 10, 30.0
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X64 = (U * (math.sqrt(n) * np.geomspace(1.0, kappa_x, d))) @ V.T
    y64 = X64 @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n)
    X, y = torch.from_numpy(X64).to(dtype), torch.from_numpy(y64).to(dtype)
    w = torch.from_numpy(rng.standard_normal(d)).to(dtype)
    # Forming G = XᵀX rounds at ε‖X‖²: errors scale with κ(G) = κ(X)² (a bound).
    tol = testing.tolerance(dtype, kappa_x**2).rtol
    gram, data = tl.least_squares(X, y, form="gram"), tl.least_squares(X, y, form="data")
    ref = (np.mean((X64 @ w.double().numpy() - y64) ** 2),
           2 / n * X64.T @ (X64 @ w.double().numpy() - y64),
           2 / n * X64.T @ (X64 @ w.double().numpy()))
    name = "float64" if dtype == torch.float64 else "float32"
    with jaxla.enable_x64(dtype == torch.float64):
        jax_gram = jaxla.least_squares(jnp.asarray(X64, name), jnp.asarray(y64, name),
                                       form="gram")
        jax_vals = [f(jnp.asarray(w.numpy())) for f in jax_gram]
    for g_val, d_val, j_val, want in zip((f(w) for f in gram), (f(w) for f in data),
                                         jax_vals, ref):
        assert g_val.dtype == dtype
        for got in (g_val, d_val, j_val):
            assert testing.relative_error(got, want) < tol
    # GD trajectories (optimal step) agree between the forms.
    lam = torch.linalg.eigvalsh(2 / n * X.double().T @ X.double())
    step = float(tl.optimal_gd_params(lam[0], lam[-1]).step_size)
    runs = [tl.gradient_descent(p.grad, torch.zeros(d, dtype=dtype), step_size=step,
                                num_steps=200, loss_fn=p.loss) for p in (gram, data)]
    assert testing.relative_error(runs[0].x, runs[1].x) < tol
    assert testing.relative_error(runs[0].losses, runs[1].losses) < tol
    # "auto" is the Gram form exactly when d <= n/4.
    def values(rows, form):
        p = tl.least_squares(X[:rows], y[:rows], form=form)
        return torch.cat([p.loss(w)[None], p.grad(w), p.hessian(w)])

    for rows, same in ((4 * d, "gram"), (4 * d - 1, "data")):
        auto, forms = values(rows, "auto"), {f: values(rows, f) for f in ("gram", "data")}
        assert torch.equal(auto, forms[same])
        assert not torch.equal(auto, forms["data" if same == "gram" else "gram"])


def test_conjugate_gradient(rng):
    n = 30
    H = spd(rng, np.linspace(1.0, 1e4, n))
    b = torch.from_numpy(rng.standard_normal(n))
    x, info = tl.conjugate_gradient(H, b, tol=1e-8)
    assert bool(info.converged) and int(info.num_iters) <= n
    testing.assert_close(x, torch.linalg.solve(H, b), rtol=1e-6)
    xj, infoj = jax.jit(jaxla.conjugate_gradient, static_argnames="tol")(
        jnp.asarray(H.numpy(), jnp.float32), jnp.asarray(b.numpy(), jnp.float32), tol=1e-4)
    x32, info32 = tl.conjugate_gradient(H.float(), b.float(), tol=1e-4)
    assert x32.dtype == torch.float32 and bool(info32.converged) and bool(infoj.converged)
    lam = torch.linspace(1.0, 1e4, 1000, dtype=torch.float64)
    _, info = tl.conjugate_gradient(lambda v: lam * v, torch.ones(1000, dtype=torch.float64),
                                    max_iters=5)
    assert int(info.num_iters) == 5 and not bool(info.converged)
    x, info = tl.conjugate_gradient(torch.diag(torch.tensor([1.0, -2.0])), torch.ones(2))
    assert not bool(info.converged) and torch.isnan(x).all()
    _, info = tl.conjugate_gradient(H, torch.full((n,), math.nan, dtype=torch.float64))
    assert not bool(info.converged) and int(info.num_iters) == 0


def test_spectral_bounds(rng):
    lam = np.linspace(1.0, 1e3, 120)
    H = spd(rng, lam)
    v0 = torch.from_numpy(rng.standard_normal(120))
    lo, hi = tl.spectral_bounds(H, v0)
    assert 1.0 <= float(lo) < 1.05 and 0.999 * 1e3 < float(hi) <= 1e3 * (1 + 1e-12)
    diag = torch.from_numpy(lam)
    bounds = tl.spectral_bounds(lambda v: diag * v, v0, num_iters=120)  # m = n: exact
    testing.assert_close(torch.stack(bounds), torch.tensor([1.0, 1e3], dtype=torch.float64),
                         rtol=1e-10)
    X = torch.from_numpy(rng.standard_normal((90, 7)))
    p = tl.least_squares(X, torch.zeros(90, dtype=torch.float64))
    exact = torch.linalg.eigvalsh(2 / 90 * X.T @ X)
    testing.assert_close(torch.stack(tl.spectral_bounds(p.hessian, torch.ones(7, dtype=
                         torch.float64))), exact[[0, -1]], rtol=1e-10)
    with pytest.raises(ValueError, match="`num_iters` must be >= 1"):
        tl.spectral_bounds(H, v0, num_iters=0)


def test_minibatches_and_stochastic_methods_replay_jax_batches(rng):
    g = torch.Generator().manual_seed(0)
    idx = tl.minibatch_indices(10, batch_size=3, num_steps=7, generator=g)
    assert idx.shape == (7, 3)
    for epoch in idx[:6].reshape(2, 9):
        assert len(set(epoch.tolist())) == 9
    X, y, w0 = rng.standard_normal((64, 4)), rng.standard_normal(64), np.zeros(4)
    with jaxla.enable_x64():
        batches = jaxla.minibatch_indices(jax.random.key(1), 64, batch_size=16, num_steps=50)
        sj = jaxla.sgd(None, jnp.asarray(X), jnp.asarray(y), jnp.asarray(w0), step_size=0.05,
                       momentum=0.5, batches=batches)
        aj = jaxla.adam(None, jnp.asarray(X), jnp.asarray(y), jnp.asarray(w0),
                        step_size=0.01, batches=batches)
    Xt, yt, wt = map(torch.from_numpy, (X, y, w0))
    bt = torch.from_numpy(np.array(batches))
    st = tl.sgd(Xt, yt, wt, step_size=0.05, momentum=0.5, batches=bt)
    at = tl.adam(Xt, yt, wt, step_size=0.01, batches=bt)
    for a, c in zip((*sj, *aj), (*st, *at)):
        testing.assert_close(a, c, rtol=1e-11)


def test_adam_matches_torch_optim_adam(rng):
    X = torch.from_numpy(rng.standard_normal((48, 5)))
    y = torch.from_numpy(rng.standard_normal(48))
    batches = tl.minibatch_indices(48, batch_size=8, num_steps=30,
                                   generator=torch.Generator().manual_seed(2))
    ours = tl.adam(X, y, torch.zeros(5, dtype=torch.float64), step_size=0.05,
                   batches=batches)
    w = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.05)  # defaults betas (0.9, 0.999), eps 1e-8
    for idx in batches:
        opt.zero_grad()
        ((X[idx] @ w - y[idx]) ** 2).mean().backward()
        opt.step()
    testing.assert_close(ours.x, w.detach(), rtol=1e-12)
    default = tl.sgd(X, y, torch.zeros(5, dtype=torch.float64), step_size=0.01, batch_size=8,
                     num_steps=12, generator=torch.Generator().manual_seed(0))
    again = tl.sgd(X, y, torch.zeros(5, dtype=torch.float64), step_size=0.01, batch_size=8,
                   num_steps=12, generator=torch.Generator().manual_seed(0))
    testing.assert_close(default.x, again.x, rtol=0.0, atol=0.0)


def test_step_size_is_differentiable_with_autograd(rng):
    H, b = spd(rng, np.linspace(1.0, 10.0, 4)), rng.standard_normal(4)
    p = tl.quadratic(H, torch.from_numpy(b))
    x0 = torch.from_numpy(rng.standard_normal(4))
    alpha = torch.tensor(0.05, dtype=torch.float64, requires_grad=True)
    p.loss(tl.heavy_ball(p.grad, x0, step_size=alpha, momentum=0.5, num_steps=20).x).backward()
    with jaxla.enable_x64():
        pj = jaxla.quadratic(jnp.asarray(H.numpy()), jnp.asarray(b))
        expected = jax.grad(lambda a: pj.loss(jaxla.heavy_ball(
            pj.grad, jnp.asarray(x0.numpy()), step_size=a, momentum=0.5, num_steps=20).x))(0.05)
    testing.assert_close(alpha.grad, expected, rtol=1e-10)


def test_bad_inputs_raise():
    X, y = torch.ones(6, 2), torch.ones(6)
    with pytest.raises(TypeError, match="`b` must be a torch.Tensor"):
        tl.quadratic(torch.eye(2), np.ones(2))
    with pytest.raises(ValueError, match="`H` must be square"):
        tl.quadratic(torch.ones(3, 2), torch.ones(3))
    with pytest.raises(ValueError, match="`y` must have length 6"):
        tl.least_squares(X, torch.ones(5))
    with pytest.raises(ValueError, match="`form` must be one of"):
        tl.least_squares(X, y, form="normal")
    with pytest.raises(TypeError, match="`grad_fn` must be callable"):
        tl.gradient_descent(1.0, torch.ones(2), step_size=0.1, num_steps=2)
    with pytest.raises(ValueError, match="`num_steps` must be >= 1"):
        tl.heavy_ball(lambda x: x, torch.ones(2), step_size=0.1, momentum=0.1, num_steps=0)
    with pytest.raises(ValueError, match="`A` must be square"):
        tl.conjugate_gradient(torch.ones(3, 2), torch.ones(3))
    with pytest.raises(ValueError, match="`batch_size` and `num_steps` are required"):
        tl.adam(X, y, torch.zeros(2))
    with pytest.raises(ValueError, match="`batch_size` must be <= num_examples"):
        tl.minibatch_indices(6, batch_size=7, num_steps=2)
    with pytest.raises(TypeError, match="`batches` must be an integer"):
        tl.sgd(X, y, torch.zeros(2), step_size=0.1, batches=torch.zeros(3, 2))
