"""Tests for jaxla.factorizations: cholesky, ldl, lu, lu_factor, qr, rref, is_positive_definite."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import zoo  # tests/jaxla/zoo.py
from jax.test_util import check_grads

import jaxla
from jaxla import factorizations
from torchbridge import testing

DTYPES = ("float32", "float64")


def _eqn_count(jaxpr) -> int:
    """Equations in a jaxpr, counting the bodies of loops/conds recursively."""
    total = 0
    for eqn in jaxpr.eqns:
        total += 1
        for param in eqn.params.values():
            subs = param if isinstance(param, (list, tuple)) else [param]
            for sub in subs:
                if hasattr(sub, "jaxpr") and hasattr(sub.jaxpr, "eqns"):
                    total += _eqn_count(sub.jaxpr)
                elif hasattr(sub, "eqns"):
                    total += _eqn_count(sub)
    return total


def _cast(a, dtype):
    return jnp.asarray(a.astype(dtype))


def _by_shape(cases):
    """Group (name, matrix) pairs by shape: [(names, stacked batch)], one compile per shape."""
    groups = {}
    for name, a in cases:
        groups.setdefault(a.shape, []).append((name, a))
    return [([n for n, _ in g], np.stack([a for _, a in g])) for g in groups.values()]


# ------------------------------------------------------------------ Cholesky
def test_cholesky_worked_example():
    L = jaxla.cholesky(jnp.array([[4.0, 2.0], [2.0, 5.0]]))
    np.testing.assert_array_equal(np.asarray(L), [[2.0, 0.0], [1.0, 2.0]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("block_size", [None, 8])
def test_cholesky_zoo_lapack_criterion(request, dtype, block_size):
    if dtype == "float64":
        request.getfixturevalue("x64")
    for names, batch in _by_shape(zoo.spd_zoo(dtype)):
        L = jaxla.cholesky(_cast(batch, dtype), block_size=block_size)
        assert L.dtype == jnp.dtype(dtype)
        for name, a, Ln in zip(names, batch, np.asarray(L, np.float64)):
            np.testing.assert_array_equal(np.triu(Ln, 1), 0, err_msg=name)
            assert np.all(np.diag(Ln) > 0), name
            testing.assert_scaled_residual(a.astype(dtype), Ln @ Ln.T, err_msg=name)


def test_cholesky_recursive_block_path(x64, rng):
    a = zoo.spd_with_spectrum(rng, 40, 1e6)
    L = jaxla.cholesky(a, block_size=32)  # diagonal blocks split recursively (32 -> 16)
    testing.assert_scaled_residual(a, L @ L.T)
    testing.assert_close(L, np.linalg.cholesky(a), rtol=1e-9, atol=1e-12)


def test_cholesky_not_pd_is_nan_under_jit():
    a = jnp.array([[1.0, 2.0], [2.0, 1.0]])
    assert bool(jnp.all(jnp.isnan(jax.jit(jaxla.cholesky)(a))))
    b = jnp.diag(jnp.array([1.0, 2.0, -1.0, 4.0] + [1.0] * 12))
    assert bool(jnp.all(jnp.isnan(jaxla.cholesky(b, block_size=4))))


def test_cholesky_batch_jit_vmap(rng):
    a = np.stack([zoo.spd_with_spectrum(rng, 10, 100.0) for _ in range(6)]).reshape(2, 3, 10, 10)
    a = a.astype(np.float32)
    L = jaxla.cholesky(a, block_size=4)
    assert L.shape == (2, 3, 10, 10)
    testing.assert_close(L, np.linalg.cholesky(a), rtol=1e-4, atol=1e-5)
    Lv = jax.jit(jax.vmap(jax.vmap(lambda m: jaxla.cholesky(m, block_size=4))))(a)
    testing.assert_close(Lv, L)


def test_cholesky_grad_matches_finite_differences(x64, rng):
    x = rng.standard_normal((6, 6))

    def f(x):
        a = x @ x.T + 6 * jnp.eye(6)
        return jnp.sum(jnp.sin(jaxla.cholesky(a, block_size=4)))

    check_grads(f, (x,), order=1, modes=("rev",))


def test_is_positive_definite(rng):
    spd = zoo.spd_with_spectrum(rng, 5, 10.0)
    nonsym = spd + np.triu(np.ones((5, 5)), 1)
    batch = np.stack([spd, -spd, nonsym, np.diag([1.0, 1, 1, 1, 0])]).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(jaxla.is_positive_definite(batch)),
                                  [True, False, False, False])
    assert jax.jit(jaxla.is_positive_definite)(spd.astype(np.float32)).dtype == jnp.bool_


# ---------------------------------------------------------------------- LDLᵀ
def test_ldl_spd_matches_cholesky(x64, rng):
    a = zoo.spd_with_spectrum(rng, 9, 1e4)
    L, d = jaxla.ldl(a)
    np.testing.assert_allclose(np.diag(L), 1.0)
    testing.assert_scaled_residual(a, (L * d) @ L.T)
    testing.assert_close(L * jnp.sqrt(d), np.linalg.cholesky(a), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ldl_semidefinite(request, dtype, rng):
    if dtype == "float64":
        request.getfixturevalue("x64")
    L, d = jaxla.ldl(jnp.ones((2, 2), dtype))
    np.testing.assert_array_equal(np.asarray(L), [[1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(np.asarray(d), [1.0, 0.0])
    a = zoo.psd_rank_deficient(rng, 12, 4)
    L, d = jaxla.ldl(_cast(a, dtype))
    assert np.all(np.isfinite(np.asarray(L))) and np.all(np.isfinite(np.asarray(d)))
    assert np.all(np.asarray(d, np.float64) > -testing.eps(dtype) * 100 * np.abs(a).max())
    testing.assert_scaled_residual(a.astype(dtype), (np.asarray(L, np.float64) * np.asarray(d))
                                   @ np.asarray(L, np.float64).T)
    assert bool(jnp.all(jnp.isnan(jaxla.cholesky(_cast(a, dtype)))))  # Cholesky fails here


# ------------------------------------------------------------------------ LU
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("block_size", [None, 8])
def test_lu_zoo_lapack_criterion(request, dtype, block_size):
    if dtype == "float64":
        request.getfixturevalue("x64")
    for names, batch in _by_shape(zoo.general_zoo(dtype)):
        lus, pivs = jaxla.lu_factor(_cast(batch, dtype), block_size=block_size)
        perms = np.asarray(factorizations.pivots_to_permutation(pivs))
        for name, a, lu_, perm in zip(names, batch, np.asarray(lus, np.float64), perms):
            assert np.all(np.isfinite(lu_)), name
            L = np.tril(lu_, -1) + np.eye(a.shape[0])
            U = np.triu(lu_)
            assert np.all(np.abs(L) <= 1 + 1e-6), name  # partial pivoting bounds |l_ij|
            testing.assert_scaled_residual(a[perm].astype(dtype), L @ U, err_msg=name)


def test_lu_matches_scipy_recursive_panel(x64, rng):
    a = zoo.with_spectrum(rng, 40, 40, 1e8)
    lu_, piv = jaxla.lu_factor(a, block_size=32)  # blocked, panels split recursively 32 -> 16
    lu_ref, piv_ref = scipy.linalg.lu_factor(a)
    np.testing.assert_array_equal(np.asarray(piv), piv_ref)
    testing.assert_close(lu_, lu_ref, rtol=1e-7, atol=1e-10)
    P, L, U = jaxla.lu(a)
    testing.assert_scaled_residual(a, P @ L @ U)
    P_ref, _, _ = jax.scipy.linalg.lu(a)
    np.testing.assert_array_equal(np.asarray(P), np.asarray(P_ref))


@pytest.mark.parametrize("n, block_size", [(100, 8), (75, 40), (200, 32)])
def test_blocked_lu_matches_scipy(x64, rng, n, block_size):
    """Several block steps per phase, odd panel widths (40 -> 20 -> 10), a padded last block."""
    a = zoo.with_spectrum(rng, n, n, 1e6)
    lu_, piv = jaxla.lu_factor(a, block_size=block_size)
    lu_ref, piv_ref = scipy.linalg.lu_factor(a)
    np.testing.assert_array_equal(np.asarray(piv), piv_ref)
    testing.assert_close(lu_, lu_ref, rtol=1e-6, atol=1e-9)
    perm = np.asarray(factorizations.pivots_to_permutation(piv))
    L = np.tril(np.asarray(lu_), -1) + np.eye(n)
    testing.assert_scaled_residual(a[perm], L @ np.triu(np.asarray(lu_)))


def test_blocked_lu_is_reverse_differentiable(x64, rng):
    a = rng.standard_normal((20, 20)) + 6 * np.eye(20)  # pivots stay put under perturbation

    def logabsdet(a):
        return jnp.sum(jnp.log(jnp.abs(jnp.diagonal(jaxla.lu_factor(a, block_size=4)[0]))))

    check_grads(logabsdet, (a,), order=1, modes=("rev",))
    testing.assert_close(jax.grad(logabsdet)(a), np.linalg.inv(a).T, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("b", [1, 3, 16, 37])
def test_tri_inv_lower_batched_levels(x64, rng, b):
    from jaxla import _blocked
    T = 0.3 * rng.standard_normal((2, b, b)) + 2 * np.eye(b)  # the upper part must be ignored
    for unit in (False, True):
        X = np.asarray(_blocked.tri_inv_lower(jnp.asarray(T), unit=unit))
        for Xi, Ti in zip(X, T):
            ref = scipy.linalg.solve_triangular(Ti, np.eye(b), lower=True, unit_diagonal=unit)
            testing.assert_close(Xi, ref, rtol=1e-10, atol=1e-12)


def test_lu_singular_has_no_nan_and_batches():
    a = np.zeros((3, 4, 4), np.float32)
    a[1] = np.arange(16, dtype=np.float32).reshape(4, 4)  # rank 2
    a[2] = np.eye(4)
    P, L, U = jax.jit(jaxla.lu)(a)
    assert P.shape == L.shape == U.shape == (3, 4, 4)
    assert np.all(np.isfinite(np.asarray(U)))
    testing.assert_scaled_residual(a, P @ L @ U)


# ------------------------------------------------------------------------ QR
@pytest.mark.parametrize("dtype", DTYPES)
def test_householder_qr_zoo(request, dtype):
    if dtype == "float64":
        request.getfixturevalue("x64")
    cases = zoo.general_zoo(dtype) + zoo.rectangular_zoo(dtype)
    for names, batch in _by_shape(cases):
        m, n = batch.shape[-2:]
        modes = ("reduced", "complete") if m > n else ("reduced",)  # same result when m <= n
        for mode in modes:
            Qs, Rs = jaxla.qr(_cast(batch, dtype), mode=mode)
            k = min(m, n) if mode == "reduced" else m
            assert Qs.shape[1:] == (m, k) and Rs.shape[1:] == (k, n), names
            for name, a, Q, R in zip(names, batch, Qs, Rs):
                np.testing.assert_array_equal(np.tril(np.asarray(R), -1), 0, err_msg=name)
                testing.assert_scaled_residual(a.astype(dtype), Q @ R, err_msg=f"{name} {mode}")
                assert testing.orthogonality_residual(Q) < 30, f"{name} {mode}"


@pytest.mark.parametrize("method", ["mgs", "cgs2"])
def test_gram_schmidt_qr(x64, rng, method):
    a = rng.standard_normal((3, 15, 6))
    Q, R = jaxla.qr(a, method=method)
    testing.assert_scaled_residual(a, Q @ R)
    assert testing.orthogonality_residual(Q) < 30
    Qh, Rh = jaxla.qr(a)
    signs = np.sign(np.diagonal(np.asarray(Rh), axis1=-2, axis2=-1))
    testing.assert_close(Q, np.asarray(Qh) * signs[..., None, :], rtol=1e-10, atol=1e-12)
    Qw, Rw = jaxla.qr(a[0].T, method=method)  # wide
    testing.assert_scaled_residual(a[0].T, Qw @ Rw)


def test_orthogonality_loss_ordering(x64, rng):
    """‖QᵀQ - I‖ on κ = 1e7: CGS ≫ MGS ≫ Householder ≈ CGS2 ≈ eps."""
    a = jnp.asarray(zoo.with_spectrum(rng, 60, 30, 1e7))
    loss = {
        "cgs": testing.orthogonality_residual(factorizations._classical_gs_single(a, 1)[0]),
        "mgs": testing.orthogonality_residual(jaxla.qr(a, method="mgs")[0]),
        "cgs2": testing.orthogonality_residual(jaxla.qr(a, method="cgs2")[0]),
        "householder": testing.orthogonality_residual(jaxla.qr(a)[0]),
    }
    assert loss["cgs"] > 1e3 * loss["mgs"], loss  # O(eps κ²) vs O(eps κ)
    assert loss["mgs"] > 1e3 * loss["householder"], loss
    assert loss["householder"] < 30 and loss["cgs2"] < 30, loss


@pytest.mark.parametrize("shape", [(150, 130), (300, 70), (70, 200)])
def test_householder_qr_several_blocks(x64, rng, shape):
    """More than one 64-column block (padded), recursive panels, zero columns (tau = 0)."""
    a = zoo.with_spectrum(rng, *shape, 1e8)
    a[:, 3] = 0.0  # a trivial reflector in the first panel
    dup = 100 % shape[1]
    a[:, dup] = a[:, 1]  # rank deficient: another (near-)trivial reflector later
    for mode in ("reduced", "complete"):
        Q, R = jaxla.qr(a, mode=mode)
        testing.assert_scaled_residual(a, Q @ R, err_msg=mode)
        assert testing.orthogonality_residual(Q) < 30, mode
        np.testing.assert_array_equal(np.tril(np.asarray(R), -1), 0)
    # R matches LAPACK up to row signs, down to the duplicated column (after it
    # the trailing rows are determined by rounding only)
    r = min(min(shape), dup)
    R_ref = np.linalg.qr(a)[1][:r]
    R = np.asarray(R)[:r]
    signs = np.where(np.diag(R_ref) * np.diag(R) < 0, -1.0, 1.0)
    testing.assert_close(R * signs[:, None], R_ref, rtol=1e-8, atol=1e-9)


def test_t_factor_matches_the_lapack_recurrence(x64, rng):
    from jaxla import _blocked
    V = np.tril(rng.standard_normal((12, 5)), -1) + np.eye(12, 5)
    tau = np.array([1.3, 0.0, 1.9, 1.1, 0.0])
    T_ref = np.zeros((5, 5))
    for j in range(5):  # xLARFT, forward columnwise
        T_ref[:j, j] = -tau[j] * T_ref[:j, :j] @ (V[:, :j].T @ V[:, j])
        T_ref[j, j] = tau[j]
    testing.assert_close(_blocked.t_factor(jnp.asarray(V), jnp.asarray(tau)), T_ref,
                         rtol=1e-12, atol=1e-14)
    H = np.eye(12)
    for j in range(5):
        H = H @ (np.eye(12) - tau[j] * np.outer(V[:, j], V[:, j]))
    testing.assert_close(np.eye(12) - V @ T_ref @ V.T, H, rtol=1e-12, atol=1e-13)


def test_qr_grad_matches_finite_differences(x64, rng):
    a = rng.standard_normal((7, 4))

    def f(a):
        Q, R = jaxla.qr(a)
        return jnp.sum(Q[:, :2] ** 3) + jnp.sum(jnp.cos(R))

    check_grads(f, (a,), order=1, modes=("rev",))


# ---------------------------------------------------------------------- RREF
def test_rref_rank_two_example():
    R, pivots, rank = jaxla.rref(jnp.array([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]))
    testing.assert_close(R, [[1.0, 0, -1], [0, 1, 2], [0, 0, 0]], atol=1e-5)
    np.testing.assert_array_equal(np.asarray(pivots), [0, 1, -1])
    assert int(rank) == 2


def test_rref_rank_deficient_and_tolerance(x64, rng):
    a = zoo.rank_deficient(rng, 8, 11, 3)
    R, pivots, rank = jax.jit(jaxla.rref)(a)
    assert int(rank) == 3
    np.testing.assert_array_equal(np.asarray(R)[3:], 0)
    piv = np.asarray(pivots)[:3]
    np.testing.assert_allclose(np.asarray(R)[:3, piv], np.eye(3), atol=1e-12)
    # same row space: the rows of R span the rows of A
    testing.assert_subspaces_close(np.asarray(R)[:3].T, np.linalg.svd(a)[2][:3].T, atol=1e-9)
    # a huge (traced) tolerance declares every column free
    assert int(jax.jit(lambda a, t: jaxla.rref(a, tol=t).rank)(a, 1e6)) == 0
    R, pivots, rank = jaxla.rref(np.stack([a, a[:, ::-1]]))
    assert R.shape == (2, 8, 11) and pivots.shape == (2, 8) and rank.shape == (2,)


# ----------------------------------------------------- compile-time structure
@pytest.mark.parametrize("fn", [
    lambda a: jaxla.cholesky(a, block_size=16),
    lambda a: jaxla.lu_factor(a, block_size=16),
    lambda a: jaxla.qr(a),
    lambda a: jaxla.solve_triangular(a, a[:, 0], block_size=16),
])
def test_jaxpr_size_does_not_grow_with_n(fn):
    sizes = [_eqn_count(jax.make_jaxpr(fn)(jnp.eye(n)).jaxpr) for n in (256, 512)]
    assert sizes[0] == sizes[1], sizes


# ------------------------------------------------------------------ bad input
def test_bad_input_messages():
    with pytest.raises(ValueError, match="`A` must be square"):
        jaxla.cholesky(jnp.ones((3, 4)))
    with pytest.raises(ValueError, match="`A` must have at least 2"):
        jaxla.lu_factor(jnp.ones(3))
    with pytest.raises(TypeError, match="`A` must be real"):
        jaxla.qr(jnp.ones((3, 3), jnp.complex64))
    with pytest.raises(TypeError, match="`A` must have a floating"):
        jaxla.ldl(np.array([["a"]]))
    with pytest.raises(ValueError, match="`method` must be one of"):
        jaxla.qr(jnp.ones((3, 3)), method="givens")
    with pytest.raises(ValueError, match="`mode` must be one of"):
        jaxla.qr(jnp.ones((3, 3)), mode="r")
    with pytest.raises(ValueError, match="`mode`='complete' needs `method`='householder'"):
        jaxla.qr(jnp.ones((4, 3)), method="mgs", mode="complete")
    with pytest.raises(ValueError, match="`block_size` must be >= 1"):
        jaxla.cholesky(jnp.eye(3), block_size=0)
    with pytest.raises(TypeError, match="`block_size` must be a static Python int"):
        jaxla.lu_factor(jnp.eye(3), block_size=2.5)


def test_integer_input_is_promoted_and_empty_works():
    L = jaxla.cholesky(np.array([[4, 2], [2, 5]]))
    assert L.dtype == jnp.float32
    assert jaxla.cholesky(jnp.zeros((0, 0))).shape == (0, 0)
    assert jaxla.lu_factor(jnp.zeros((2, 0, 0)))[1].shape == (2, 0)
    Q, R = jaxla.qr(jnp.zeros((0, 3)))
    assert Q.shape == (0, 0) and R.shape == (0, 3)
    assert jaxla.ldl(jnp.zeros((0, 0))).d.shape == (0,)
