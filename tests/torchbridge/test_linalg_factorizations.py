"""Tests for the PyTorch twins in torchbridge.linalg.factorizations / solvers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from tests.jaxla import zoo
from torchbridge import linalg as tl
from torchbridge import testing


def _t(a, dtype=torch.float64):
    return torch.as_tensor(np.asarray(a), dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cholesky_lu_qr_zoo_lapack_criterion(dtype):
    name = "float32" if dtype == torch.float32 else "float64"
    for label, a in zoo.spd_zoo(name, n=12):
        L = tl.cholesky(_t(a, dtype), block_size=5)
        testing.assert_scaled_residual(a.astype(name), L @ L.T, err_msg=label)
    for label, a in zoo.general_zoo(name, n=12):
        P, L, U = tl.lu(_t(a, dtype))
        testing.assert_scaled_residual(a.astype(name), P @ L @ U, err_msg=label)
        Q, R = tl.qr(_t(a, dtype))
        testing.assert_scaled_residual(a.astype(name), Q @ R, err_msg=label)
        assert testing.orthogonality_residual(Q) < 30, label


def test_worked_example_and_not_pd():
    L = tl.cholesky(torch.tensor([[4.0, 2.0], [2.0, 5.0]]))
    assert torch.equal(L, torch.tensor([[2.0, 0.0], [1.0, 2.0]]))
    assert torch.isnan(tl.cholesky(torch.tensor([[1.0, 2.0], [2.0, 1.0]]))).all()
    pd = tl.is_positive_definite(torch.stack([torch.eye(3), -torch.eye(3)]))
    assert pd.tolist() == [True, False]


def test_ldl_semidefinite_and_rref():
    L, d = tl.ldl(torch.ones(2, 2, dtype=torch.float64))
    assert L.tolist() == [[1.0, 0.0], [1.0, 1.0]] and d.tolist() == [1.0, 0.0]
    R, piv, rank = tl.rref(torch.tensor([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=torch.float64))
    testing.assert_close(R, [[1.0, 0, -1], [0, 1, 2], [0, 0, 0]], atol=1e-12)
    assert piv.tolist() == [0, 1, -1] and int(rank) == 2


def test_lu_factor_matches_scipy_and_solvers():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((10, 10))
    lu, piv = tl.lu_factor(_t(a))
    lu_ref, piv_ref = scipy.linalg.lu_factor(a)
    testing.assert_close(lu, lu_ref, rtol=1e-10, atol=1e-12)
    assert piv.tolist() == piv_ref.tolist()
    b = rng.standard_normal((10, 2))
    x = tl.lu_solve((lu, piv), _t(b))
    testing.assert_close(x, np.linalg.solve(a, b), rtol=1e-9, atol=1e-11)
    sing = zoo.rank_deficient(rng, 10, 10, 5)
    x = tl.solve(_t(sing), _t(b[:, 0]), assume_a="auto")
    testing.assert_close(x, np.linalg.pinv(sing) @ b[:, 0], rtol=1e-8, atol=1e-10)
    s, ld = tl.slogdet(_t(np.ones((3, 3))))
    assert float(s) == 0 and float(ld) == -math.inf


def test_orthogonality_loss_ordering():
    a = _t(zoo.with_spectrum(np.random.default_rng(1), 40, 20, 1e7))
    mgs = testing.orthogonality_residual(tl.qr(a, method="mgs")[0])
    cgs2 = testing.orthogonality_residual(tl.qr(a, method="cgs2")[0])
    house = testing.orthogonality_residual(tl.qr(a)[0])
    assert mgs > 1e3 * house and house < 30 and cgs2 < 30


def test_checked_and_bad_input():
    with pytest.raises(ValueError, match="not .*positive definite"):
        tl.checked(tl.cholesky)(-torch.eye(3))
    with pytest.raises(ValueError, match="singular"):
        tl.checked(tl.lu_factor)(torch.ones(3, 3))
    with pytest.raises(ValueError, match="`A` must be square"):
        tl.cholesky(torch.ones(2, 3))
    with pytest.raises(ValueError, match="`b` has shape"):
        tl.solve(torch.eye(3), torch.ones(4))
    with pytest.raises(ValueError, match="`method` must be one of"):
        tl.qr(torch.eye(3), method="givens")
    with pytest.raises(TypeError, match="`A` must be real"):
        tl.lu_factor(torch.eye(2, dtype=torch.complex64))
    with pytest.raises(ValueError, match="`p` must be one of"):
        tl.cond(torch.eye(2), p=3)
