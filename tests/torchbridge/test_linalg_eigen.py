"""Tests for the PyTorch eigen-solver twins in torchbridge.linalg."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from torchbridge import linalg as tl
from torchbridge import testing

D = torch.float64


def _spectral(gen, spectrum):
    n = len(spectrum)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=D))
    return (Q * torch.tensor(spectrum, dtype=D)) @ Q.T


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def test_vector_iterations_worked_example():
    A = torch.tensor([[4.0, 2.0], [2.0, 3.0]], dtype=D)
    v0 = torch.tensor([1.0, 0.3], dtype=D)
    s17 = math.sqrt(17)
    big = tl.power_iteration(A, v0, tol=1e-12)
    small = tl.inverse_iteration(A, v0, tol=1e-12)
    rqi = tl.rayleigh_quotient_iteration(A, torch.tensor([1.0, 0.0], dtype=D), tol=1e-12)
    testing.assert_close(big.value, (7 + s17) / 2)
    testing.assert_close(small.value, (7 - s17) / 2)
    testing.assert_close(rqi.value, (7 + s17) / 2)
    assert big.converged and small.converged and rqi.converged
    assert int(rqi.num_iters) < int(big.num_iters)


def test_hard_cases_vector_iterations():
    res = tl.power_iteration(torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.tensor([0.0, 1.0]))
    assert float(res.value) == 0.0 and res.converged
    nan = tl.power_iteration(torch.tensor([[1.0, math.nan], [0.0, 1.0]]), torch.ones(2))
    assert not nan.converged and int(nan.num_iters) == 0
    pm = tl.power_iteration(torch.diag(torch.tensor([2.0, -2.0])), torch.ones(2), max_iters=30)
    assert not pm.converged and int(pm.num_iters) == 30
    exact = tl.inverse_iteration(torch.diag(torch.tensor([1.0, 2.0, 3.0])), torch.ones(3),
                                 shift=2.0)
    testing.assert_close(exact.value, 2.0)
    with pytest.raises(ValueError, match="`v0` must be a nonzero start vector"):
        tl.power_iteration(torch.eye(3), torch.zeros(3))
    with pytest.raises(ValueError, match="`A` must be square"):
        tl.power_iteration(torch.ones(2, 3), torch.ones(3))
    with pytest.raises(TypeError, match="`A` must be a dense array"):
        tl.rayleigh_quotient_iteration(lambda v: v, torch.ones(2))


def test_batch_and_deflation(gen):
    A = torch.stack([_spectral(gen, [5.0, 2.0, 1.0, -1.0]) for _ in range(3)])
    res = tl.power_iteration(A, torch.ones(4, dtype=D), tol=1e-12)
    assert res.value.shape == (3,) and res.vector.shape == (3, 4)
    testing.assert_close(res.value, [5.0, 5.0, 5.0])
    top = tl.deflated_power_iteration(A[0], torch.randn(4, 2, generator=gen, dtype=D), tol=1e-12)
    testing.assert_close(top.eigenvalues, [2.0, 5.0])
    start = torch.ones(4, 2, dtype=D) + torch.eye(4, 2, dtype=D)
    op = tl.deflated_power_iteration(lambda x: A[0] @ x, start, tol=1e-12)
    testing.assert_close(op.eigenvalues, [2.0, 5.0])


def _wilkinson(m=10):
    W = np.diag(np.abs(np.arange(-m, m + 1)).astype(float))
    return torch.tensor(W + np.diag(np.ones(2 * m), 1) + np.diag(np.ones(2 * m), -1))


@pytest.mark.parametrize("name", ["wilkinson", "zero", "one", "diagonal", "repeated", "random"])
def test_eigh_qr(gen, name):
    X = torch.randn(7, 7, generator=gen, dtype=D)
    A = {"wilkinson": _wilkinson(), "zero": torch.zeros(4, 4, dtype=D),
         "one": torch.tensor([[-2.0]], dtype=D), "diagonal": torch.diag(torch.tensor(
             [3.0, -1.0, 2.0, 2.0], dtype=D)), "repeated": torch.eye(5, dtype=D) + 1,
         "random": X + X.T}[name]
    w, V = tl.eigh_qr(A)
    testing.assert_scaled_residual(A, (V * w) @ V.T)
    assert testing.orthogonality_residual(V) < 30
    testing.assert_close(w, torch.linalg.eigvalsh(A), atol=1e-13 * max(1.0, float(A.abs().max())))


def test_eigh_qr_nan_batch(gen):
    X = torch.randn(2, 5, 5, generator=gen, dtype=D)
    A = X + X.mT
    A[0, 1, 2] = math.nan
    w, V = tl.eigh_qr(A)
    assert torch.isnan(w[0]).all() and torch.isfinite(w[1]).all()


def test_eigvals_and_schur(gen):
    cases = [([[4.0, 2.0], [1.0, 3.0]], [2.0, 5.0]), ([[0.0, -1.0], [1.0, 0.0]], [-1j, 1j]),
             ([[0.0, 1.0], [0.0, 0.0]], [0.0, 0.0]), ([[3.0, 1.0], [0.0, 2.0]], [2.0, 3.0])]
    for A, expected in cases:
        ev = tl.eigvals_qr(torch.tensor(A, dtype=D)).numpy()
        testing.assert_close(np.sort_complex(ev), np.sort_complex(np.array(expected, complex)),
                             atol=1e-12)
    X = torch.randn(9, 9, generator=gen, dtype=D)
    T, Z = tl.schur(X)
    testing.assert_scaled_residual(X, Z @ T @ Z.T)
    assert testing.orthogonality_residual(Z) < 30
    assert torch.all(torch.tril(T, -2) == 0)
    P = torch.roll(torch.eye(6, dtype=D), 1, 0)
    ev = np.sort_complex(np.round(tl.eigvals_qr(P).numpy(), 10))
    testing.assert_close(ev, np.sort_complex(np.round(np.exp(2j * np.pi * np.arange(6) / 6), 10)),
                         atol=1e-9)


def test_lanczos_and_arnoldi(gen):
    A = _spectral(gen, [9.0, 7.0] + list(np.linspace(-3, 3, 18)))
    w, V = tl.lanczos_eigsh(A, torch.ones(20, dtype=D), 2, num_iters=20)
    testing.assert_close(w, [7.0, 9.0])
    w, V = tl.lanczos_eigsh(lambda x: A @ x, torch.ones(20, dtype=D), 1, num_iters=20,
                            which="smallest")
    testing.assert_close(w, [-3.0])
    Dg = torch.diag(torch.arange(1.0, 7.0, dtype=D))
    w, _ = tl.lanczos_eigsh(Dg, torch.eye(6, dtype=D)[0] + torch.eye(6, dtype=D)[1], 2,
                            num_iters=6)
    testing.assert_close(w, [5.0, 6.0])
    X = torch.randn(10, 10, generator=gen, dtype=D)
    Q, H = tl.arnoldi(X, torch.ones(10, dtype=D), 5)
    testing.assert_close(X @ Q[:, :5], Q @ H, atol=1e-12)
    testing.assert_close(Q.T @ Q, torch.eye(6, dtype=D), atol=1e-13)
    with pytest.raises(ValueError, match="`which` must be one of"):
        tl.lanczos_eigsh(A, torch.ones(20, dtype=D), 1, which="big")
    with pytest.raises(ValueError, match="`num_iters` must be an int"):
        tl.arnoldi(X, torch.ones(10, dtype=D), 11)


def test_generalized_eigh(gen):
    A = _spectral(gen, [3.0, 1.0, -2.0, 0.5])
    X = torch.randn(4, 4, generator=gen, dtype=D)
    B = X @ X.T + 4 * torch.eye(4, dtype=D)
    w, V = tl.generalized_eigh(A, B)
    w_ref, V_ref = scipy.linalg.eigh(A.numpy(), B.numpy())
    testing.assert_close(w, w_ref)
    testing.assert_eigvecs_close(V, V_ref)
    bad = tl.generalized_eigh(torch.eye(2, dtype=D), torch.tensor([[1.0, 2.0], [2.0, 1.0]],
                                                                  dtype=D))
    assert torch.isnan(bad.eigenvalues).all()
