"""Tests for `jaxla.gaussian`: MVN sampling and log-density, entropy,
cross-entropy and KL divergence."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
import scipy.stats

import jaxla
from torchbridge import testing


def _spd(rng, d, batch=()):
    B = rng.standard_normal((*batch, d, d))
    return B @ np.swapaxes(B, -1, -2) / d + 0.5 * np.eye(d)


# ------------------------------------------------------------------- logpdf
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logpdf_matches_scipy(dtype, rng, x64):
    d = 5
    cov, mean = _spd(rng, d), rng.standard_normal(d)
    x = rng.standard_normal((7, d))
    want = scipy.stats.multivariate_normal(mean, cov).logpdf(x)
    got = jaxla.mvn_logpdf(x.astype(dtype), mean.astype(dtype), cov=cov.astype(dtype))
    assert got.shape == (7,) and got.dtype == dtype
    testing.assert_close(got, want, rtol=testing.tolerance(dtype).rtol)
    via_chol = jaxla.mvn_logpdf(x.astype(dtype), mean.astype(dtype),
                                chol=np.linalg.cholesky(cov).astype(dtype))
    testing.assert_close(via_chol, want, rtol=testing.tolerance(dtype).rtol)


def test_logpdf_broadcasting(rng):
    covs = _spd(rng, 3, (4,)).astype(np.float32)
    means = rng.standard_normal((4, 3)).astype(np.float32)
    x = rng.standard_normal((6, 4, 3)).astype(np.float32)
    got = jaxla.mvn_logpdf(x, means, cov=covs)
    assert got.shape == (6, 4)
    want = np.stack([scipy.stats.multivariate_normal(means[i], covs[i]).logpdf(x[:, i])
                     for i in range(4)], axis=1)
    testing.assert_close(got, want)
    single = jaxla.mvn_logpdf(x[0, 0], means[0], cov=covs[0])
    assert single.shape == ()
    testing.assert_close(single, want[0, 0])
    # One covariance shared by a (2, 3) grid of points.
    grid = jaxla.mvn_logpdf(x[:2, :3], means[0], cov=covs[0])
    assert grid.shape == (2, 3)
    testing.assert_close(grid, scipy.stats.multivariate_normal(means[0], covs[0]).logpdf(x[:2, :3]))


def test_logpdf_jit_vmap(rng):
    cov, mean = _spd(rng, 3).astype(np.float32), np.zeros(3, np.float32)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    f = lambda x: jaxla.mvn_logpdf(x, mean, cov=cov)  # noqa: E731
    testing.assert_close(jax.jit(f)(x), jax.vmap(f)(x))


def test_logpdf_not_pd_is_nan():
    cov = np.array([[1.0, 2.0], [2.0, 1.0]], np.float32)
    out = jax.jit(lambda x: jaxla.mvn_logpdf(x, np.zeros(2), cov=cov))(np.zeros(2, np.float32))
    assert np.isnan(out)


def test_logpdf_grad_matches_finite_differences(rng, x64):
    d = 3
    B0 = rng.standard_normal((d, d))
    mean, x = rng.standard_normal(d), rng.standard_normal((4, d))

    def loss(x, mean, B):  # Σ = B Bᵀ + I is symmetric PD for any B
        return jnp.sum(jaxla.mvn_logpdf(x, mean, cov=B @ B.T + jnp.eye(d)))

    grads = jax.grad(loss, argnums=(0, 1, 2))(x, mean, B0)
    h = 1e-6
    for i, arg in enumerate((x, mean, B0)):
        E = rng.standard_normal(arg.shape)
        args_p = [x, mean, B0]
        args_m = [x, mean, B0]
        args_p[i] = arg + h * E
        args_m[i] = arg - h * E
        fd = (loss(*args_p) - loss(*args_m)) / (2 * h)
        np.testing.assert_allclose(np.sum(grads[i] * E), fd, rtol=1e-6)
    # Known closed form: ∇_x log p = −Σ⁻¹ (x − μ).
    cov = B0 @ B0.T + np.eye(d)
    np.testing.assert_allclose(grads[0], -np.linalg.solve(cov, (x - mean).T).T, rtol=1e-10)


def test_logpdf_bad_input():
    with pytest.raises(ValueError, match="exactly one of `cov` and `chol`"):
        jaxla.mvn_logpdf(np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="exactly one of `cov` and `chol`"):
        jaxla.mvn_logpdf(np.zeros(2), np.zeros(2), cov=np.eye(2), chol=np.eye(2))
    with pytest.raises(ValueError, match="`cov` must have shape"):
        jaxla.mvn_logpdf(np.zeros(2), np.zeros(2), cov=np.eye(3))
    with pytest.raises(ValueError, match="`cov` must be square"):
        jaxla.mvn_logpdf(np.zeros(2), np.zeros(2), cov=np.ones((2, 3)))
    with pytest.raises(ValueError, match="`x` has shape"):
        jaxla.mvn_logpdf(np.zeros(3), np.zeros(2), cov=np.eye(2))
    with pytest.raises(TypeError, match="`chol` must be real"):
        jaxla.mvn_logpdf(np.zeros(2), np.zeros(2), chol=np.eye(2, dtype=np.complex64))


# ------------------------------------------------------------------- sample
def test_sample_covariance_error_at_10000(rng):
    # ALGORITHMS.md: ~0.02 relative Frobenius error of the sample covariance
    # at 10,000 samples. It must be small but not zero (real randomness).
    cov, mean = _spd(rng, 4), rng.standard_normal(4)
    x = np.asarray(jaxla.mvn_sample(jax.random.key(0), mean.astype(np.float32),
                                    cov.astype(np.float32), shape=(10_000,)), np.float64)
    assert x.shape == (10_000, 4)
    err = np.linalg.norm(np.cov(x.T) - cov) / np.linalg.norm(cov)
    assert 1e-3 < err < 0.05
    assert np.linalg.norm(x.mean(0) - mean) < 5 * np.sqrt(np.trace(cov) / 10_000)


def test_sample_chol_equals_cov_and_batches(rng):
    cov, mean = _spd(rng, 3), rng.standard_normal(3)
    key = jax.random.key(1)
    a = jaxla.mvn_sample(key, mean, cov, shape=(5,))
    b = jaxla.mvn_sample(key, mean, chol=np.linalg.cholesky(cov), shape=(5,))
    testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    batched = jaxla.mvn_sample(key, np.zeros((2, 3)), _spd(rng, 3, (2,)), shape=(4,))
    assert batched.shape == (4, 2, 3)
    assert jaxla.mvn_sample(key, mean, cov).shape == (3,)
    c = jax.jit(lambda k: jaxla.mvn_sample(k, mean, cov, shape=(5,)))(key)
    testing.assert_close(a, c, rtol=1e-5, atol=1e-5)
    d = jaxla.mvn_sample(jax.random.key(2), mean, cov, shape=(5,))
    assert not np.allclose(a, d)


def test_sample_not_pd_is_nan():
    bad = np.array([[1.0, 2.0], [2.0, 1.0]], np.float32)
    assert np.all(np.isnan(jaxla.mvn_sample(jax.random.key(0), np.zeros(2), bad)))


def test_sample_bad_input():
    key = jax.random.key(0)
    with pytest.raises(TypeError, match="`key` must be a jax.random key"):
        jaxla.mvn_sample(0, np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="exactly one of `cov` and `chol`"):
        jaxla.mvn_sample(key, np.zeros(2))
    with pytest.raises(ValueError, match="`mean` must have at least 1"):
        jaxla.mvn_sample(key, 0.0, np.eye(1))
    with pytest.raises(TypeError, match="`shape` must be a tuple of static ints"):
        jaxla.mvn_sample(key, np.zeros(2), np.eye(2), shape=(2.5,))


# -------------------------------------------------------------- information
def test_entropy_known_values():
    n = 8
    np.testing.assert_allclose(jaxla.entropy(np.full(n, 1.0 / n)), np.log(n), rtol=1e-6)
    np.testing.assert_allclose(jaxla.entropy(np.eye(n)[2]), 0.0, atol=0)
    np.testing.assert_allclose(jaxla.entropy(logits=np.zeros(n)), np.log(n), rtol=1e-6)
    # Extreme logits: no NaN from log(0) and the one-hot limit.
    np.testing.assert_allclose(jaxla.entropy(logits=np.array([0.0, -1e4, -1e4])), 0.0,
                               atol=1e-6)


def test_information_inequalities(rng):
    p = rng.dirichlet(np.ones(6), size=20).astype(np.float32)
    q = rng.dirichlet(np.ones(6), size=20).astype(np.float32)
    H = jaxla.entropy(p)
    Hpq = jaxla.cross_entropy(p, q)
    kl = jaxla.kl_divergence(p, q)
    assert np.all(Hpq >= H - 1e-6)
    assert np.all(kl >= 0) and np.all(kl > 1e-4)
    testing.assert_close(kl, Hpq - H, atol=1e-5)
    testing.assert_close(jaxla.kl_divergence(p, p), np.zeros(20), atol=1e-6)
    testing.assert_close(H, scipy.stats.entropy(p, axis=-1))
    testing.assert_close(kl, scipy.stats.entropy(p, q, axis=-1))


def test_logits_agree_with_probabilities(rng):
    a, b = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    p, q = scipy.special.softmax(a, -1), scipy.special.softmax(b, -1)
    testing.assert_close(jaxla.entropy(logits=a), jaxla.entropy(p))
    testing.assert_close(jaxla.cross_entropy(p_logits=a, q_logits=b), jaxla.cross_entropy(p, q))
    testing.assert_close(jaxla.cross_entropy(p, q_logits=b), jaxla.cross_entropy(p, q))
    testing.assert_close(jaxla.kl_divergence(p_logits=a, q_logits=b),
                         jaxla.kl_divergence(p, q))
    testing.assert_close(jaxla.kl_divergence(p, q_logits=b), jaxla.kl_divergence(p, q))
    # The event axis is selectable.
    testing.assert_close(jaxla.entropy(p.T, axis=0), jaxla.entropy(p))


def test_zero_probabilities():
    p = np.array([0.5, 0.5, 0.0], np.float32)
    q = np.array([0.25, 0.25, 0.5], np.float32)
    assert np.isfinite(jaxla.kl_divergence(p, q))
    np.testing.assert_allclose(jaxla.kl_divergence(p, q), np.log(2.0), rtol=1e-6)
    assert np.isinf(jaxla.kl_divergence(q, p))
    assert np.isinf(jaxla.cross_entropy(q, p))


def test_information_jit_vmap_grad(rng):
    a = rng.standard_normal((4, 5)).astype(np.float32)
    b = rng.standard_normal((4, 5)).astype(np.float32)
    f = lambda a, b: jaxla.kl_divergence(p_logits=a, q_logits=b)  # noqa: E731
    testing.assert_close(jax.jit(f)(a, b), jax.vmap(f)(a, b))
    # ∂ KL(p‖softmax(b)) / ∂b = softmax(b) − p.
    g = jax.grad(lambda b: jnp.sum(f(a, b)))(b)
    testing.assert_close(g, scipy.special.softmax(b, -1) - scipy.special.softmax(a, -1),
                         atol=1e-6)


def test_information_bad_input():
    with pytest.raises(ValueError, match="exactly one of `p` and `logits`"):
        jaxla.entropy()
    with pytest.raises(ValueError, match="exactly one of `p` and `logits`"):
        jaxla.entropy(np.ones(2) / 2, logits=np.zeros(2))
    with pytest.raises(ValueError, match="exactly one of `q` and `q_logits`"):
        jaxla.cross_entropy(np.ones(2) / 2)
    with pytest.raises(ValueError, match="broadcastable shapes"):
        jaxla.kl_divergence(np.ones(3) / 3, np.ones(2) / 2)
    with pytest.raises(ValueError, match="`p` must have at least 1"):
        jaxla.entropy(0.5)
    with pytest.raises(TypeError, match="`q_logits` must be real"):
        jaxla.kl_divergence(np.ones(2) / 2, q_logits=np.zeros(2, np.complex64))
