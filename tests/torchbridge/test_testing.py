"""The comparison toolkit: each helper passes when it should and fails when it must."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import torch

from torchbridge import testing


def test_tolerance_table_scales_with_precision():
    names = ["float64", "float32", "float16", "bfloat16"]
    tols = [testing.tolerance(n).rtol for n in names]
    assert tols == sorted(tols)
    assert testing.tolerance(torch.float32) == testing.tolerance(jnp.float32)
    assert testing.tolerance("complex128") == testing.tolerance(np.float64)
    assert testing.tolerance("float32", scale=10).rtol == pytest.approx(10 * tols[1])
    assert testing.eps(torch.bfloat16) == 2.0 ** -7
    with pytest.raises(TypeError, match="floating or complex dtype"):
        testing.tolerance("int32")


def test_assert_close_passes_and_fails():
    a = np.linspace(1, 2, 10)
    testing.assert_close(a * (1 + 1e-13), a)
    with pytest.raises(AssertionError, match="1 of 10 elements"):
        b = a.copy()
        b[3] += 1e-3
        testing.assert_close(b, a)
    with pytest.raises(AssertionError, match="shape mismatch"):
        testing.assert_close(a, a[:5])
    with pytest.raises(AssertionError, match="NaN positions differ"):
        b = a.copy()
        b[0] = np.nan
        testing.assert_close(b, a)


def test_assert_close_respects_rtol_and_atol():
    a = np.array([100.0])
    testing.assert_close(a + 0.5, a, rtol=1e-2, atol=0)
    with pytest.raises(AssertionError):
        testing.assert_close(a + 0.5, a, rtol=1e-3, atol=0)
    with pytest.raises(AssertionError):
        testing.assert_close(np.array([1e-3]), np.array([0.0]), rtol=1.0, atol=1e-4)


def test_assert_close_mixed_frameworks_and_default_dtype_tolerance():
    x = np.random.default_rng(0).standard_normal(20)
    testing.assert_close(torch.tensor(x, dtype=torch.float32), jnp.asarray(x, jnp.float32))
    # float32 vs float64: the looser float32 tolerance applies; 1e-5 relative is too far.
    with pytest.raises(AssertionError):
        testing.assert_close(torch.tensor(x * (1 + 1e-5), dtype=torch.float32), x)


def _orthogonal(n, seed=0, complex_=False):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    if complex_:
        a = a + 1j * rng.standard_normal((n, n))
    return np.linalg.qr(a)[0]


def test_assert_eigvecs_close_up_to_sign_and_phase():
    q = _orthogonal(6)
    testing.assert_eigvecs_close(q * np.array([1, -1, 1, -1, -1, 1]), q)
    qc = _orthogonal(5, complex_=True)
    testing.assert_eigvecs_close(qc * np.exp(1j * np.arange(5)), qc)
    with pytest.raises(AssertionError, match="eigenvectors differ"):
        testing.assert_eigvecs_close(q[:, ::-1], q)  # permuted columns
    with pytest.raises(AssertionError, match="eigenvectors differ"):
        testing.assert_eigvecs_close(q + 1e-4, q)


def test_assert_subspaces_close():
    q = _orthogonal(8)[:, :3]
    mixed = q @ np.array([[1.0, 2, 0], [0, 1, 3], [1, 0, 1]])  # same span, not orthonormal
    testing.assert_subspaces_close(mixed, q)
    with pytest.raises(AssertionError, match="principal angle"):
        testing.assert_subspaces_close(_orthogonal(8, seed=1)[:, :3], q)


def test_subspace_error_is_accurate_for_tiny_angles():
    theta = 1e-10
    a = np.array([[1.0], [0.0]])
    b = np.array([[np.cos(theta)], [np.sin(theta)]])
    assert testing.subspace_error(b, a) == pytest.approx(np.sin(theta), rel=1e-6)


def test_scaled_residual_and_orthogonality():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((50, 50))
    q, r = np.linalg.qr(a)
    assert testing.scaled_residual(a, q @ r) < 30
    assert testing.orthogonality_residual(q) < 30
    testing.assert_scaled_residual(a, q @ r)
    bad = q @ r + 1e-10 * np.abs(a).max()
    assert testing.scaled_residual(a, bad) > 30
    with pytest.raises(AssertionError, match="scaled residual"):
        testing.assert_scaled_residual(a, bad)
    assert testing.orthogonality_residual(q + 1e-10) > 30
    # float32 factors are judged with float32's epsilon.
    q32 = q.astype(np.float32)
    assert testing.scaled_residual(a.astype(np.float32), q32 @ r.astype(np.float32)) < 30
    assert testing.scaled_residual(a, np.full_like(a, np.nan)) == np.inf


def test_relative_error_handles_non_finite_and_empty():
    assert testing.relative_error(np.array([np.nan, 1.0]), np.array([np.nan, 1.0])) == 0.0
    assert testing.relative_error(np.array([np.inf, 1.0]), np.array([1.0, 1.0])) == np.inf
    assert testing.relative_error(np.array([np.nan]), np.array([np.inf])) == np.inf
    assert testing.relative_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0
