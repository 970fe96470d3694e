"""Tests for jaxla.decompositions: PCA (eigh/svd/randomized), kernel PCA, NMF."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA, KernelPCA
from sklearn.preprocessing import StandardScaler

import jaxla
from jaxla import decompositions
from torchbridge import testing

pca_jit = jax.jit(jaxla.pca, static_argnames=("n_components", "method", "standardize"))
nmf_jit = jax.jit(jaxla.nmf, static_argnames=("rank", "num_iters", "method"))


@pytest.fixture(scope="module")
def digits():
    return load_digits().data  # (1797, 64), float64


@pytest.mark.parametrize("method", ["eigh", "svd"])
def test_pca_digits_matches_sklearn(x64, digits, method):
    ref = PCA(n_components=10, svd_solver="full").fit(digits)
    res = pca_jit(digits, 10, method=method)
    ratio2 = float(jnp.sum(res.explained_variance_ratio[:2]))
    assert ratio2 == pytest.approx(0.285, abs=0.005)        # "about 28%" (notes)
    # Same sign convention as scikit-learn, so components match entry by entry.
    testing.assert_close(res.components, ref.components_, rtol=1e-5, atol=1e-5)
    testing.assert_close(res.explained_variance, ref.explained_variance_, rtol=1e-5)
    testing.assert_close(res.explained_variance_ratio, ref.explained_variance_ratio_, rtol=1e-5)
    testing.assert_close(res.singular_values, ref.singular_values_, rtol=1e-5)
    testing.assert_close(res.mean, ref.mean_, rtol=1e-12, atol=1e-12)
    testing.assert_close(jaxla.pca_transform(res, digits), ref.transform(digits),
                         rtol=1e-5, atol=1e-5)


def test_pca_digits_float32_and_randomized(digits):
    ref = PCA(n_components=5, svd_solver="full").fit(digits)
    res = jaxla.pca(digits.astype(np.float32), 5)              # eager, float32
    testing.assert_close(res.components, ref.components_, rtol=1e-4, atol=1e-4)
    testing.assert_close(res.explained_variance_ratio, ref.explained_variance_ratio_, rtol=1e-4)
    rnd = pca_jit(digits.astype(np.float32), 5, method="randomized", key=jax.random.key(0))
    # The first 5 digit components are well separated: randomized (q = 7) agrees closely.
    testing.assert_close(rnd.explained_variance, ref.explained_variance_, rtol=1e-4)
    testing.assert_eigvecs_close(np.asarray(rnd.components).T, ref.components_.T, atol=1e-3)


def test_pca_standardize_matches_scaler_pipeline(x64, rng):
    X = rng.standard_normal((60, 6)) * np.array([1, 10, 100, 0.1, 5, 2]) + 3
    X[:, 3] = 7.0                                                # a constant feature
    Xs = StandardScaler().fit_transform(X)
    ref = PCA(n_components=3, svd_solver="full").fit(Xs)
    res = pca_jit(X, 3, standardize=True, method="svd")
    testing.assert_close(res.components, ref.components_, atol=1e-10)
    testing.assert_close(res.explained_variance, ref.explained_variance_, rtol=1e-10)
    testing.assert_close(jaxla.pca_transform(res, X), ref.transform(Xs), atol=1e-9)


def test_pca_reconstruction_error_is_dropped_variance(x64, rng):
    X = rng.standard_normal((50, 8)) @ rng.standard_normal((8, 8))
    full = pca_jit(X, 8)
    res = pca_jit(X, 3)
    Z = jaxla.pca_transform(res, X)
    resid = (X - np.asarray(res.mean)) - np.asarray(Z) @ np.asarray(res.components)
    dropped = float(jnp.sum(full.explained_variance[3:]))
    assert np.sum(resid**2) / 49 == pytest.approx(dropped, rel=1e-10)
    testing.assert_close(jnp.sum(full.explained_variance_ratio), 1.0, atol=1e-12)


def test_pca_batch_vmap_and_grad(x64, rng):
    X = rng.standard_normal((3, 20, 5))
    res = pca_jit(X, 2)
    assert res.components.shape == (3, 2, 5) and res.mean.shape == (3, 5)
    one = pca_jit(X[1], 2)
    testing.assert_close(res.components[1], one.components, atol=1e-12)
    vm = jax.vmap(lambda x: jaxla.pca(x, 2, method="svd"))(jnp.asarray(X))
    testing.assert_close(vm.explained_variance, res.explained_variance, rtol=1e-10)
    assert jaxla.pca_transform(res, X).shape == (3, 20, 2)
    # d λ₁ / dX = 2 X̃ v₁ v₁ᵀ / (N − 1) for the top eigenpair.
    g = jax.grad(lambda x: jaxla.pca(x, 2).explained_variance[0])(jnp.asarray(X[0]))
    Xc = X[0] - X[0].mean(0)
    v = np.asarray(res.components[0, 0])
    testing.assert_close(g, 2 * np.outer(Xc @ v, v) / 19, atol=1e-10)


def test_pca_bad_inputs():
    X = jnp.ones((5, 3))
    with pytest.raises(ValueError, match="`key` is required"):
        jaxla.pca(X, 2, method="randomized")
    with pytest.raises(ValueError, match="`n_components` must be <="):
        jaxla.pca(X, 4)
    with pytest.raises(ValueError, match="`method` must be one of"):
        jaxla.pca(X, 2, method="lanczos")
    with pytest.raises(ValueError, match="at least 2 samples"):
        jaxla.pca(jnp.ones((1, 3)), 1)
    res = pca_jit(jnp.arange(15.0).reshape(5, 3) ** 2, 2)
    with pytest.raises(ValueError, match="features"):
        jaxla.pca_transform(res, jnp.ones((4, 2)))


# --------------------------------------------------------------- kernel PCA
@pytest.mark.parametrize("kernel", ["rbf", "poly", "linear"])
def test_kernel_pca_matches_sklearn(x64, digits, kernel):
    X = digits[:150] / 16.0
    ref = KernelPCA(n_components=4, kernel=kernel, eigen_solver="dense").fit_transform(X)
    emb = jax.jit(functools.partial(jaxla.kernel_pca, n_components=4, kernel=kernel))(X)
    testing.assert_close(emb, ref, rtol=1e-8, atol=1e-8 * np.abs(ref).max())


def test_kernel_pca_linear_equals_pca_scores_and_batch(rng):
    X = rng.standard_normal((40, 6)).astype(np.float32)
    emb = jaxla.kernel_pca(X, 3, kernel="linear")               # eager path
    scores = jaxla.pca_transform(pca_jit(X, 3), X)
    testing.assert_eigvecs_close(emb, scores, atol=1e-4)
    batch = jax.jit(functools.partial(jaxla.kernel_pca, n_components=3))(
        np.stack([X, X]), gamma=0.5)
    assert batch.shape == (2, 40, 3)
    with pytest.raises(ValueError, match="`kernel` must be one of"):
        jaxla.kernel_pca(X, 2, kernel="sigmoid")


# ---------------------------------------------------------------------- NMF
def test_nmf_nonnegative_and_loss_non_increasing(rng):
    X = np.abs(rng.standard_normal((30, 20))).astype(np.float32)
    W, H, losses = jax.jit(decompositions._nmf_trace, static_argnums=(2, 3))(
        jax.random.key(0), jnp.asarray(X), 4, 150)
    losses = np.asarray(losses)
    assert np.all(np.asarray(W) >= 0) and np.all(np.asarray(H) >= 0)
    assert np.all(np.diff(losses) <= 1e-6 * losses[0]), np.diff(losses).max()
    assert losses[-1] < 0.5 * losses[0]
    # The public function runs the same updates.
    W2, H2 = nmf_jit(jax.random.key(0), X, 4, num_iters=150)
    testing.assert_close(W2, W, rtol=1e-5, atol=1e-6)
    loss = 0.5 * np.sum((X - np.asarray(W2) @ np.asarray(H2)) ** 2)
    assert loss == pytest.approx(losses[-1], rel=1e-4)


def test_nmf_recovers_exact_nonnegative_factorization(x64, rng):
    X = np.abs(rng.standard_normal((25, 3))) @ np.abs(rng.standard_normal((3, 18)))
    W, H = jaxla.nmf(jax.random.key(1), X, 3, num_iters=1000)   # eager path
    rel = np.linalg.norm(X - np.asarray(W) @ np.asarray(H)) / np.linalg.norm(X)
    assert rel < 2e-2, rel


def test_nmf_batch_grad_and_invalid_input(rng):
    X = np.abs(rng.standard_normal((2, 10, 8))).astype(np.float32)
    W, H = nmf_jit(jax.random.key(0), X, 2, num_iters=20)
    assert W.shape == (2, 10, 2) and H.shape == (2, 2, 8)
    g = jax.jit(jax.grad(lambda x: jnp.sum(nmf_jit(jax.random.key(0), x, 2, num_iters=5)[0])))(
        jnp.asarray(X[0]))
    assert bool(jnp.all(jnp.isfinite(g)))
    W, H = nmf_jit(jax.random.key(0), -X[0], 2, num_iters=5)
    assert bool(jnp.all(jnp.isnan(W))) and bool(jnp.all(jnp.isnan(H)))
    with pytest.raises(ValueError, match="`method` must be one of"):
        jaxla.nmf(jax.random.key(0), X, 2, method="als")
    with pytest.raises(TypeError, match="`key` must be a jax.random key"):
        jaxla.nmf(3, X, 2)
