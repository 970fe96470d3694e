"""Tests for jaxla.solvers: triangular/Cholesky/LU solves, solve, lstsq, inv, det, cond, ..."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import zoo  # tests/jaxla/zoo.py
from jax.test_util import check_grads

import jaxla
from torchbridge import testing


def _backward_error(A, x, b) -> float:
    """Normwise backward error ‖b - A x‖ / ((‖A‖‖x‖ + ‖b‖) · n · eps), LAPACK-style."""
    A, x, b = (np.asarray(v, np.float64) for v in (A, x, b))
    r = np.linalg.norm(b - A @ x, 1)
    den = np.linalg.norm(A, 1) * np.linalg.norm(x, 1) + np.linalg.norm(b, 1)
    return r / (den * max(A.shape) * testing.eps(np.float64))


# --------------------------------------------------------------- triangular
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("trans", [False, True])
@pytest.mark.parametrize("unit", [False, True])
def test_solve_triangular_matches_scipy(x64, rng, lower, trans, unit):
    n = 21
    T = np.tril(rng.standard_normal((n, n))) + 4 * np.eye(n)
    T = T if lower else T.T
    b = rng.standard_normal((n, 3))
    ref = scipy.linalg.solve_triangular(T, b, lower=lower, trans=int(trans), unit_diagonal=unit)
    for bs in (None, 8, 3):  # substitution; blocked (3 blocks, padded; 7 blocks, 4 phases)
        x = jaxla.solve_triangular(T, b, lower=lower, trans=trans, unit_diagonal=unit,
                                   block_size=bs)
        testing.assert_close(x, ref, rtol=1e-10, atol=1e-12)


def test_solve_triangular_vector_and_batch(rng):
    T = np.tril(rng.standard_normal((4, 6, 6))) + 3 * np.eye(6)
    b = rng.standard_normal((4, 6))
    x = jax.jit(jaxla.solve_triangular)(T.astype(np.float32), b.astype(np.float32))
    assert x.shape == (4, 6)
    testing.assert_close(x, np.linalg.solve(T, b[..., None])[..., 0], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------- factored solves
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lu_and_cho_solve_backward_error_zoo(request, rng, dtype):
    if dtype == "float64":
        request.getfixturevalue("x64")
    eps_ratio = testing.eps(dtype) / testing.eps(np.float64)
    for name, a in zoo.general_zoo(dtype) + zoo.spd_zoo(dtype):
        if a.shape[0] == 0 or name in ("rank_deficient", "near_singular"):
            continue
        b = rng.standard_normal(a.shape[0])
        A = jnp.asarray(a, dtype)
        x = jaxla.lu_solve(jaxla.lu_factor(A), jnp.asarray(b, dtype))
        err = _backward_error(a.astype(dtype), x, b) / eps_ratio
        assert err < 30, (name, err)
        if name.startswith(("spd", "hilbert", "graded_spd", "one")):
            x = jaxla.cho_solve(jaxla.cholesky(A), jnp.asarray(b, dtype))
            err = _backward_error(a.astype(dtype), x, b) / eps_ratio
            assert err < 30, (name, "cho", err)


def test_lu_solve_and_solve_blocked_substitution(x64, rng):
    n = 160  # more than one 128-row block in the triangular solves
    a = zoo.with_spectrum(rng, n, n, 1e4)
    b = rng.standard_normal((n, 2))
    x = jaxla.lu_solve(jaxla.lu_factor(a), b)
    assert _backward_error(a, x, b) < 30
    testing.assert_close(x, np.linalg.solve(a, b), rtol=1e-9, atol=1e-9)
    for assume_a in ("gen", "auto"):  # "auto": Hager's estimate uses transposed solves
        testing.assert_close(jaxla.solve(a, b, assume_a=assume_a), np.linalg.solve(a, b),
                             rtol=1e-9, atol=1e-9)


def test_solve_modes_and_auto_decision(x64, rng):
    spd = zoo.spd_with_spectrum(rng, 12, 1e3)
    gen = zoo.with_spectrum(rng, 12, 12, 1e3)
    sing = zoo.rank_deficient(rng, 12, 12, 6)
    b = rng.standard_normal(12)
    for a_mode in ("gen", "pos", "auto"):
        testing.assert_close(jaxla.solve(spd, b, assume_a=a_mode), np.linalg.solve(spd, b),
                             rtol=1e-10, atol=1e-12)
    testing.assert_close(jaxla.solve(gen, b, assume_a="auto"), np.linalg.solve(gen, b),
                         rtol=1e-10, atol=1e-12)
    assert bool(jnp.all(jnp.isnan(jaxla.solve(gen, b, assume_a="pos"))))
    # singular: "auto" falls back to the minimum-norm least-squares solution
    x = jaxla.solve(sing, b, assume_a="auto")
    testing.assert_close(x, np.linalg.pinv(sing) @ b, rtol=1e-8, atol=1e-10)
    assert not np.all(np.isfinite(np.asarray(jaxla.solve(sing * 0, b))))
    # one batched, jitted call takes a different branch per matrix
    batch = np.stack([spd, gen, sing])
    xs = jax.jit(lambda a, b: jaxla.solve(a, b, assume_a="auto"))(batch, np.stack([b] * 3))
    testing.assert_close(xs[:2], np.linalg.solve(batch[:2], np.stack([b, b])[..., None])[..., 0],
                         rtol=1e-10, atol=1e-12)
    testing.assert_close(xs[2], x, rtol=1e-10, atol=1e-12)


def test_solve_matrix_rhs_broadcast(rng):
    a = rng.standard_normal((3, 5, 5)).astype(np.float32) + 5 * np.eye(5, dtype=np.float32)
    b = rng.standard_normal((1, 5, 2)).astype(np.float32)  # (5, 2) would be a batch of vectors
    x = jaxla.solve(a, b)
    assert x.shape == (3, 5, 2)
    testing.assert_close(x, np.linalg.solve(a, b), rtol=1e-4, atol=1e-5)


def test_grads_solve_lu_solve_slogdet(x64, rng):
    a = rng.standard_normal((5, 5)) + 4 * np.eye(5)
    b = rng.standard_normal(5)
    spd = a @ a.T
    check_grads(lambda a, b: jnp.sum(jaxla.solve(a, b) ** 2), (a, b), order=1, modes=("rev",))
    check_grads(lambda a, b: jnp.sum(jaxla.solve(a @ a.T, b, assume_a="pos")), (a, b),
                order=1, modes=("rev",))
    check_grads(lambda a, b: jnp.sum(jnp.sin(jaxla.lu_solve(jaxla.lu_factor(a), b))), (a, b),
                order=1, modes=("rev",))
    check_grads(lambda a: jaxla.slogdet(a).logabsdet, (a,), order=1, modes=("rev",))
    g = jax.grad(lambda a: jaxla.slogdet(a).logabsdet)(spd)
    testing.assert_close(g, np.linalg.inv(spd).T, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------ least squares
def test_lstsq_full_rank_rank_deficient_and_wide(x64, rng):
    for a in (rng.standard_normal((20, 6)), zoo.rank_deficient(rng, 20, 6, 3),
              rng.standard_normal((5, 9))):
        b = rng.standard_normal((a.shape[0], 2))
        res = jaxla.lstsq(a, b)
        x_ref, _, rank_ref, s_ref = np.linalg.lstsq(a, b, rcond=None)
        testing.assert_close(res.solution, x_ref, rtol=1e-9, atol=1e-11)
        assert int(res.rank) == rank_ref
        testing.assert_close(res.singular_values, s_ref, rtol=1e-10, atol=1e-12)
        testing.assert_close(res.residuals, np.sum((b - a @ x_ref) ** 2, axis=0),
                             rtol=1e-8, atol=1e-10)
    res = jax.jit(jaxla.lstsq)(np.stack([a[:, :5], a[:, 4:]]).astype(np.float32),
                               np.ones((2, 5), np.float32))
    assert res.solution.shape == (2, 5) and res.residuals.shape == (2,)


# ---------------------------------------------- inverse, determinants, rank
def test_inv_det_slogdet(x64, rng):
    a = rng.standard_normal((2, 7, 7))
    testing.assert_close(jaxla.inv(a), np.linalg.inv(a), rtol=1e-10, atol=1e-12)
    testing.assert_close(jaxla.det(a), np.linalg.det(a), rtol=1e-10)
    sign, logdet = jaxla.slogdet(a)
    ref = np.linalg.slogdet(a)
    np.testing.assert_array_equal(np.asarray(sign), ref.sign)
    testing.assert_close(logdet, ref.logabsdet, rtol=1e-12)
    big = 1e3 * np.eye(120) + rng.standard_normal((120, 120))  # det overflows float64
    assert np.isinf(float(jaxla.det(big)))
    testing.assert_close(jaxla.slogdet(big).logabsdet, np.linalg.slogdet(big).logabsdet,
                         rtol=1e-12)
    s, ld = jaxla.slogdet(np.ones((3, 3)))
    assert float(s) == 0 and float(ld) == -np.inf
    assert float(jaxla.det(np.diag([2.0, 3.0]))) == 6.0


@pytest.mark.parametrize("p", [2, 1, np.inf, "fro"])
def test_cond(x64, rng, p):
    a = zoo.with_spectrum(rng, 8, 8, 1e6)
    testing.assert_close(jaxla.cond(a, p), np.linalg.cond(a, p), rtol=1e-6)
    k = float(jaxla.cond(np.ones((3, 3)), p))  # σ_min is rounding noise for p = 2
    assert k == np.inf if p != 2 else k > 1e14


def test_matrix_rank_and_pinv(x64, rng):
    a = zoo.rank_deficient(rng, 9, 7, 4)
    assert int(jaxla.matrix_rank(a)) == 4
    assert int(jaxla.matrix_rank(a, tol=1e10)) == 0
    testing.assert_close(jaxla.pinv(a), np.linalg.pinv(a), rtol=1e-9, atol=1e-11)
    h = zoo.hilbert(12)
    assert int(jaxla.matrix_rank(h)) == np.linalg.matrix_rank(h)
    assert jaxla.pinv(np.zeros((2, 0, 3))).shape == (2, 3, 0)


# ----------------------------------------------------------------- checks
def test_checked_raises_clear_errors(rng):
    spd = zoo.spd_with_spectrum(rng, 4, 10.0).astype(np.float32)
    with pytest.raises(ValueError, match="not .*positive definite"):
        jaxla.checked(jaxla.cholesky)(-spd)
    with pytest.raises(ValueError, match="singular"):
        jaxla.checked(jaxla.lu_factor)(np.ones((3, 3), np.float32))
    with pytest.raises(ValueError, match="contains NaN or inf"):
        jaxla.checked(jaxla.solve)(spd, np.array([1.0, np.nan, 0, 0], np.float32))
    with pytest.raises(ValueError, match="`inv` produced NaN/inf"):
        jaxla.checked(jaxla.inv)(np.zeros((3, 3), np.float32))
    L = jaxla.checked(jaxla.cholesky)(spd)
    testing.assert_close(L, np.linalg.cholesky(spd.astype(np.float64)), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="`fn` must be callable"):
        jaxla.checked(3)


def test_bad_input_messages():
    eye = jnp.eye(3)
    with pytest.raises(ValueError, match="`b` has shape"):
        jaxla.solve(eye, jnp.ones(4))
    with pytest.raises(ValueError, match="`assume_a` must be one of"):
        jaxla.solve(eye, jnp.ones(3), assume_a="sym")
    with pytest.raises(ValueError, match="`T` must be square"):
        jaxla.solve_triangular(jnp.ones((2, 3)), jnp.ones(2))
    with pytest.raises(ValueError, match="`b` has shape"):
        jaxla.cho_solve(eye, jnp.ones((2, 2)))
    with pytest.raises(TypeError, match="`lu_and_piv` must be the"):
        jaxla.lu_solve(eye, jnp.ones(3))
    with pytest.raises(ValueError, match="`piv` must be an integer array"):
        jaxla.lu_solve((eye, jnp.ones(3)), jnp.ones(3))
    with pytest.raises(ValueError, match="`p` must be one of"):
        jaxla.cond(eye, p=3)
    with pytest.raises(ValueError, match="`A` must be square"):
        jaxla.cond(jnp.ones((2, 3)), p=1)
    with pytest.raises(TypeError, match="`b` must be real"):
        jaxla.lstsq(eye, jnp.ones(3, jnp.complex64))
    with pytest.raises(ValueError, match="`A` must have at least 2"):
        jaxla.pinv(jnp.ones(3))
