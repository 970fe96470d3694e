"""Tests for the PyTorch twins in torchbridge.linalg.randomized / .decompositions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA, KernelPCA
from sklearn.utils.extmath import randomized_svd as sk_randomized_svd

import torchbridge.linalg as tl
from torchbridge import testing

_SK_NORMALIZER = {"qr": "QR", "lu": "LU", "none": "none"}


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _decaying(rng, m, n, spectrum):
    k = len(spectrum)
    U, _ = np.linalg.qr(rng.standard_normal((m, k)))
    V, _ = np.linalg.qr(rng.standard_normal((n, k)))
    return torch.from_numpy((U * spectrum) @ V.T)


def _recon(res):
    return (res.U * res.S.unsqueeze(-2)) @ res.Vh


@pytest.mark.parametrize("shape,normalizer", [((50, 30), "qr"), ((30, 50), "lu"),
                                              ((50, 30), "none"), ((30, 50), "qr")])
def test_same_sketch_reproduces_sklearn(rng, shape, normalizer):
    A = _decaying(rng, *shape, 0.8 ** np.arange(min(shape)))
    k, p, q = 6, 5, 3
    omega = torch.from_numpy(np.random.RandomState(3).normal(size=(min(shape), k + p)))
    res = tl.randomized_svd_from_sketch(A, omega, k, power_iters=q, normalizer=normalizer)
    U, S, Vt = sk_randomized_svd(A.numpy(), k, n_oversamples=p, n_iter=q, random_state=3,
                                 power_iteration_normalizer=_SK_NORMALIZER[normalizer])
    testing.assert_close(res.S, S, rtol=1e-10, atol=1e-12)
    testing.assert_close(res.U, U, rtol=1e-7, atol=1e-8)
    testing.assert_close(res.Vh, Vt, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("shape", [(200, 90), (90, 200)])
def test_randomized_svd_accuracy_and_conventions(rng, shape):
    s = np.exp(-np.arange(min(shape)) / 5.0)
    A = _decaying(rng, *shape, s)
    res = tl.randomized_svd(A, 10, power_iters=2, generator=_gen(0))
    err = torch.linalg.matrix_norm(A - _recon(res), ord=2).item()
    assert err <= 1.1 * s[10]
    assert res.U.shape == (shape[0], 10) and res.Vh.shape == (10, shape[1])
    U = res.U.numpy()
    assert np.all(U[np.abs(U).argmax(0), np.arange(10)] > 0)
    again = tl.randomized_svd(A, 10, power_iters=2, generator=_gen(0))
    assert torch.equal(again.U, res.U)                       # deterministic given the generator


def test_notes_example_and_float32():
    A = torch.tensor([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]])
    res = tl.randomized_svd(A, 2, generator=_gen(1))
    testing.assert_scaled_residual(A, _recon(res))
    assert res.S.dtype == torch.float32


def test_callable_batch_and_range_finder(rng):
    A = _decaying(rng, 24, 40, 0.8 ** np.arange(24))
    omega = torch.from_numpy(rng.standard_normal((24, 9)))
    dense = tl.randomized_svd_from_sketch(A, omega, 5)
    matfree = tl.randomized_svd_from_sketch(lambda x: A @ x, omega, 5, shape=(24, 40))
    for a, b in zip(matfree, dense):
        testing.assert_close(a, b, atol=1e-9)
    # Callables are probed in torch's default dtype (float32 here).
    keyed = tl.randomized_svd(lambda x: A.float() @ x, 5, shape=(24, 40), generator=_gen(2))
    assert keyed.S.dtype == torch.float32
    testing.assert_close(keyed.S, dense.S, rtol=1e-4)
    batch = torch.from_numpy(rng.standard_normal((2, 3, 20, 12)))
    res = tl.randomized_svd(batch, 4, generator=_gen(0))
    assert res.U.shape == (2, 3, 20, 4) and res.Vh.shape == (2, 3, 4, 12)
    Q = tl.range_finder(batch, torch.from_numpy(rng.standard_normal((12, 5))), normalizer="lu")
    assert Q.shape == (2, 3, 20, 5)
    assert testing.orthogonality_residual(Q[1, 2]) < 30
    Qc = tl.range_finder(lambda x: batch[0, 0] @ x, omega[:12], power_iters=1)
    testing.assert_close(Qc, tl.range_finder(batch[0, 0], omega[:12], power_iters=1), atol=1e-10)


@pytest.mark.parametrize("method", ["nystrom", "rayleigh_ritz"])
def test_randomized_eigh(rng, method):
    n, k = 70, 5
    lam = np.exp(-np.arange(n) / 3.0)
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = torch.from_numpy((V * lam) @ V.T)
    res = tl.randomized_eigh(A, k, method=method, generator=_gen(0))
    testing.assert_close(res.eigenvalues, lam[:k][::-1], rtol=1e-6, atol=1e-9)
    testing.assert_eigvecs_close(res.eigenvectors, V[:, :k][:, ::-1], atol=1e-4)
    bad = tl.randomized_eigh(-torch.eye(10, dtype=torch.float64), 2, generator=_gen(0))
    if method == "nystrom":
        assert torch.isnan(bad.eigenvalues).all()


def test_ru_qlp(rng):
    s = np.exp(-np.arange(80) / 4.0)
    A = _decaying(rng, 120, 80, s)
    Q, L, P = tl.ru_qlp(A, 10, power_iters=2, generator=_gen(0))
    assert testing.orthogonality_residual(Q) < 30 and testing.orthogonality_residual(P) < 30
    assert torch.equal(torch.triu(L, 1), torch.zeros_like(L))
    err = torch.linalg.matrix_norm(A - Q @ L @ P.mT, ord=2).item()
    assert err <= 2.0 * s[10]


def test_pca_and_kernel_pca_match_sklearn():
    X = torch.from_numpy(load_digits().data)
    ref = PCA(n_components=8, svd_solver="full").fit(X.numpy())
    for method in ("eigh", "svd"):
        res = tl.pca(X, 8, method=method)
        testing.assert_close(res.components, ref.components_, rtol=1e-5, atol=1e-5)
        testing.assert_close(res.explained_variance_ratio, ref.explained_variance_ratio_,
                             rtol=1e-5)
    assert res.explained_variance_ratio[:2].sum().item() == pytest.approx(0.285, abs=0.005)
    testing.assert_close(tl.pca_transform(res, X), ref.transform(X.numpy()), atol=1e-5)
    rnd = tl.pca(X, 4, method="randomized", generator=_gen(0))
    testing.assert_close(rnd.explained_variance, ref.explained_variance_[:4], rtol=1e-6)
    Xs = X[:120] / 16
    for kernel in ("rbf", "poly", "linear"):
        want = KernelPCA(3, kernel=kernel, eigen_solver="dense").fit_transform(Xs.numpy())
        testing.assert_close(tl.kernel_pca(Xs, 3, kernel=kernel), want, rtol=1e-8,
                             atol=1e-8 * np.abs(want).max())


def test_nmf_nonnegative_and_monotone(rng):
    X = torch.from_numpy(np.abs(rng.standard_normal((30, 20))))
    losses = []
    for iters in (0, 1, 5, 20, 100):
        W, H = tl.nmf(X, 4, num_iters=iters, generator=_gen(0))
        assert (W >= 0).all() and (H >= 0).all()
        losses.append(0.5 * (X - W @ H).square().sum().item())
    assert all(b <= a for a, b in zip(losses, losses[1:])), losses
    W, H = tl.nmf(-X, 2, num_iters=2, generator=_gen(0))
    assert torch.isnan(W).all()


def test_bad_inputs():
    A = torch.ones(6, 4)
    with pytest.raises(ValueError, match="`rank` must be <= min"):
        tl.randomized_svd(A, 5)
    with pytest.raises(ValueError, match="`normalizer` must be one of"):
        tl.randomized_svd(A, 2, normalizer="cholesky")
    with pytest.raises(ValueError, match="`sketch` must have n = 4 rows"):
        tl.randomized_svd_from_sketch(A, torch.ones(5, 3), 2)
    with pytest.raises(ValueError, match="`shape` must be given"):
        tl.randomized_svd(lambda x: x, 2)
    with pytest.raises(TypeError, match="`A` must be a torch.Tensor"):
        tl.randomized_svd(np.ones((3, 3)).tolist(), 2)
    with pytest.raises(ValueError, match="`method` must be one of"):
        tl.randomized_eigh(torch.eye(4), 2, method="lanczos")
    with pytest.raises(ValueError, match="`n_components` must be <="):
        tl.pca(A, 5)
    with pytest.raises(ValueError, match="`kernel` must be one of"):
        tl.kernel_pca(A, 2, kernel="sigmoid")
    with pytest.raises(TypeError, match="`rank` must be a static Python int"):
        tl.nmf(A, 2.0)
