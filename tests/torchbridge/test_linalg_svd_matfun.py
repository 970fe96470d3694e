"""Tests for the PyTorch twins `torchbridge.linalg.{svd, expm, funm_eigh, mvn_*,
entropy, cross_entropy, kl_divergence}`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.special
import scipy.stats
import torch

from torchbridge import linalg as tl
from torchbridge import testing


def _check_lapack(A, result, dtype):
    U, S, Vh = (testing.to_numpy(x) for x in result)
    k = S.shape[-1]
    recon = (U[..., :, :k] * S[..., None, :]) @ Vh[..., :k, :]
    assert testing.scaled_residual(testing.to_numpy(A), recon, dtype) < 30
    assert testing.orthogonality_residual(U, dtype) < 30
    assert testing.orthogonality_residual(np.swapaxes(Vh, -1, -2), dtype) < 30
    assert np.all(np.diff(S, axis=-1) <= 0)


@pytest.mark.parametrize("shape", [(7, 4), (4, 7), (5, 5), (1, 1), (2, 6, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_svd_random(shape, dtype):
    g = torch.Generator().manual_seed(0)
    A = torch.randn(*shape, generator=g, dtype=dtype)
    result = tl.svd(A)
    assert isinstance(result, tl.SVDResult)
    _check_lapack(A, result, dtype)
    ref = torch.linalg.svdvals(A.double())
    testing.assert_close(result.S, ref, rtol=0, atol=20 * testing.eps(dtype) * float(ref.max()))


def test_svd_full_and_empty():
    A = torch.randn(6, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    U, S, Vh = tl.svd(A, full_matrices=True)
    assert U.shape == (6, 6) and Vh.shape == (3, 3)
    _check_lapack(A, (U, S, Vh), torch.float64)
    for shape in [(0, 3), (3, 0)]:
        for full in (False, True):
            got = tl.svd(torch.zeros(shape), full_matrices=full)
            want = np.linalg.svd(np.zeros(shape), full_matrices=full)
            assert [tuple(x.shape) for x in got] == [x.shape for x in want]


def test_svd_rank_deficient_and_zero():
    A = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]], dtype=torch.float64)
    U, S, Vh = tl.svd(A)
    assert S[2] < 10 * testing.eps(torch.float64) * S[0]
    testing.assert_close((U[:, :2] * S[:2]) @ Vh[:2], A, atol=1e-13)
    _check_lapack(A, (U, S, Vh), torch.float64)
    Z = tl.svd(torch.zeros(4, 3))
    assert torch.all(Z.S == 0) and torch.isfinite(Z.U).all()
    assert testing.orthogonality_residual(Z.U) < 30
    assert testing.orthogonality_residual(Z.Vh.T) < 30


def test_svd_hilbert_float64():
    A = torch.tensor(scipy.linalg.hilbert(8))
    result = tl.svd(A)
    _check_lapack(A, result, torch.float64)


def test_svd_bad_input():
    with pytest.raises(ValueError, match="`A` must have at least 2"):
        tl.svd(torch.ones(3))
    with pytest.raises(TypeError, match="`A` must be real"):
        tl.svd(torch.ones(2, 2, dtype=torch.complex64))
    with pytest.raises(TypeError, match="`A` must be a torch.Tensor"):
        tl.svd(np.ones((2, 2)))
    with pytest.raises(ValueError, match="`max_sweeps` must be >= 1"):
        tl.svd(torch.ones(2, 2), max_sweeps=0)


# ---------------------------------------------------------------------- expm
@pytest.mark.parametrize("norm1", [1e-2, 0.2, 0.9, 2.0, 5.0, 40.0])
def test_expm_every_degree(norm1):
    rng = np.random.default_rng(int(norm1 * 100))
    A = rng.standard_normal((2, 5, 5))
    A *= norm1 / np.linalg.norm(A, 1, axis=(-2, -1))[:, None, None]
    want = scipy.linalg.expm(A)
    for dtype in (torch.float32, torch.float64):
        got = tl.expm(torch.tensor(A, dtype=dtype))
        tol = 20 * max(1.0, norm1) * testing.eps(dtype)
        assert testing.relative_error(got, want) < tol


def test_expm_identities():
    R = tl.expm(torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64))
    c, s = math.cos(1.0), math.sin(1.0)
    testing.assert_close(R, torch.tensor([[c, -s], [s, c]], dtype=torch.float64))
    M = torch.randn(4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    K = M - M.T
    Q = tl.expm(K)
    assert testing.orthogonality_residual(Q) < 30 * float(torch.linalg.matrix_norm(K, 1))
    A, B = M, 2 * M + M @ M  # commute
    testing.assert_close(tl.expm(A + B), tl.expm(A) @ tl.expm(B), rtol=1e-10, atol=1e-10)
    assert torch.isnan(tl.expm(torch.tensor([[math.nan]]))).all()
    assert torch.isnan(tl.expm(100 * torch.eye(2), max_squarings=2)).all()


def test_expm_autograd_matches_block_formula():
    rng = np.random.default_rng(3)
    A = torch.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    W = torch.tensor(rng.standard_normal((3, 3)))
    (W * tl.expm(A)).sum().backward()
    E = rng.standard_normal((3, 3))
    block = scipy.linalg.expm(np.block([[A.detach().numpy(), E], [np.zeros((3, 3)),
                                                                    A.detach().numpy()]]))
    np.testing.assert_allclose((A.grad.numpy() * E).sum(), (W.numpy() * block[:3, 3:]).sum(),
                               rtol=1e-9)


def test_funm_eigh():
    B = torch.randn(2, 4, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    A = B @ B.mT + torch.eye(4, dtype=torch.float64)
    S = tl.funm_eigh(A, torch.sqrt)
    testing.assert_close(S @ S, A)
    testing.assert_close(tl.funm_eigh(A, torch.exp), tl.expm(A))
    with pytest.raises(TypeError, match="`f` must be callable"):
        tl.funm_eigh(A, "exp")
    with pytest.raises(ValueError, match="`A` must be square"):
        tl.expm(torch.ones(2, 3))


# ------------------------------------------------------------------ gaussian
def test_mvn_logpdf_and_sample():
    rng = np.random.default_rng(4)
    Bm = rng.standard_normal((3, 3))
    cov = Bm @ Bm.T + np.eye(3)
    mean = rng.standard_normal(3)
    x = rng.standard_normal((5, 3))
    want = scipy.stats.multivariate_normal(mean, cov).logpdf(x)
    t = lambda a: torch.tensor(a)  # noqa: E731
    testing.assert_close(tl.mvn_logpdf(t(x), t(mean), cov=t(cov)), want)
    testing.assert_close(tl.mvn_logpdf(t(x), t(mean), chol=t(np.linalg.cholesky(cov))), want)
    samples = tl.mvn_sample(t(mean), t(cov), shape=(10_000,),
                            generator=torch.Generator().manual_seed(0))
    assert samples.shape == (10_000, 3)
    err = np.linalg.norm(np.cov(samples.numpy().T) - cov) / np.linalg.norm(cov)
    assert 1e-3 < err < 0.05
    bad = t(np.array([[1.0, 2.0], [2.0, 1.0]]))
    assert torch.isnan(tl.mvn_logpdf(t(np.zeros(2)), t(np.zeros(2)), cov=bad))
    assert torch.isnan(tl.mvn_sample(t(np.zeros(2)), bad)).all()
    with pytest.raises(ValueError, match="exactly one of `cov` and `chol`"):
        tl.mvn_sample(t(mean))
    with pytest.raises(ValueError, match="`cov` must have shape"):
        tl.mvn_logpdf(t(x), t(mean), cov=t(np.eye(2)))


def test_information_measures():
    rng = np.random.default_rng(5)
    p = torch.tensor(rng.dirichlet(np.ones(5), size=6))
    q = torch.tensor(rng.dirichlet(np.ones(5), size=6))
    H, Hpq, kl = tl.entropy(p), tl.cross_entropy(p, q), tl.kl_divergence(p, q)
    testing.assert_close(H, scipy.stats.entropy(p.numpy(), axis=-1))
    testing.assert_close(kl, scipy.stats.entropy(p.numpy(), q.numpy(), axis=-1))
    assert torch.all(Hpq >= H) and torch.all(kl > 0)
    testing.assert_close(kl, Hpq - H)
    testing.assert_close(tl.entropy(logits=p.log()), H)
    testing.assert_close(tl.kl_divergence(p_logits=p.log(), q_logits=q.log()), kl)
    testing.assert_close(tl.cross_entropy(p, q_logits=q.log() + 3.0), Hpq)
    zero = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64)
    assert torch.isfinite(tl.kl_divergence(zero, torch.full((3,), 1 / 3, dtype=torch.float64)))
    with pytest.raises(ValueError, match="exactly one of `p` and `logits`"):
        tl.entropy()
    with pytest.raises(ValueError, match="broadcastable shapes"):
        tl.kl_divergence(torch.ones(3) / 3, torch.ones(2) / 2)
