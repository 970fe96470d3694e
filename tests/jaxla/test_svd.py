"""Tests for `jaxla.svd` (one-sided Jacobi): LAPACK criteria on a matrix zoo,
hard cases, transformations (jit, vmap, grad) and bad input."""

from __future__ import annotations

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import zoo  # tests/jaxla/zoo.py

import jaxla
from torchbridge import testing

# `jaxla.svd` is the function; the module (for its private loop) lives here.
svd_module = importlib.import_module("jaxla.svd")


def _check_lapack(A, result, dtype, bound=30.0):
    """‖A − UΣVᵀ‖/(n eps ‖A‖), ‖UᵀU − I‖/(n eps), ‖VᵀV − I‖/(n eps) all < bound."""
    U, S, Vh = (np.asarray(x, np.float64) for x in result)
    k = S.shape[-1]
    recon = (U[..., :, :k] * S[..., None, :]) @ Vh[..., :k, :]
    assert testing.scaled_residual(A, recon, dtype) < bound
    assert testing.orthogonality_residual(U, dtype) < bound
    assert testing.orthogonality_residual(np.swapaxes(Vh, -1, -2), dtype) < bound
    assert np.all(S >= 0)
    assert np.all(np.diff(S, axis=-1) <= 0), "singular values must be descending"


SHAPES = [(8, 5), (5, 8), (1, 1), (7, 1), (1, 7), (2, 3, 8, 5)]


@pytest.mark.parametrize("shape", SHAPES)
def test_random_float32(shape, rng):
    A = rng.standard_normal(shape).astype(np.float32)
    result = jaxla.svd(A)
    assert isinstance(result, jaxla.SVDResult)
    k = min(shape[-2:])
    assert result.U.shape == (*shape[:-1], k)
    assert result.S.shape == (*shape[:-2], k)
    assert result.Vh.shape == (*shape[:-2], k, shape[-1])
    _check_lapack(A, result, np.float32)
    ref = np.linalg.svd(A.astype(np.float64), compute_uv=False)
    testing.assert_close(result.S, ref, rtol=0, atol=20 * testing.eps(np.float32) * ref.max())


def test_jit_matches_eager(rng):
    A = rng.standard_normal((8, 5)).astype(np.float32)
    eager, jitted = jaxla.svd(A), jax.jit(jaxla.svd)(A)
    testing.assert_close(jitted.S, eager.S)
    testing.assert_eigvecs_close(jitted.U, eager.U)
    _check_lapack(A, jitted, np.float32)


@pytest.mark.parametrize("shape", [(8, 5), (2, 5, 8)])
def test_full_matrices(shape, rng):
    A = rng.standard_normal(shape).astype(np.float32)
    U, S, Vh = jaxla.svd(A, full_matrices=True)
    m, n = shape[-2:]
    assert U.shape == (*shape[:-2], m, m) and Vh.shape == (*shape[:-2], n, n)
    _check_lapack(A, (U, S, Vh), np.float32)
    thin = jaxla.svd(A)
    testing.assert_close(S, thin.S)


def _by_shape(cases):
    """Group (name, matrix) pairs by shape: one batched call (one compile) per shape."""
    groups = {}
    for name, a in cases:
        groups.setdefault(a.shape, []).append((name, a))
    return [([n for n, _ in g], np.stack([a for _, a in g])) for g in groups.values()]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zoo_lapack_criteria(dtype, request):
    # The shared zoo: κ up to 1e5 (f32) / 1e12 (f64), Kahan, graded,
    # rank-deficient, near-singular, Hilbert (f64), 1×1, empty, tall, wide.
    if dtype == "float64":
        request.getfixturevalue("x64")
    cases = zoo.general_zoo(dtype, n=16) + zoo.rectangular_zoo(dtype)
    for names, batch in _by_shape(cases):
        A = batch.astype(dtype)
        result = jaxla.svd(A)
        for i, name in enumerate(names):
            single = tuple(np.asarray(x[i]) for x in result)
            try:
                _check_lapack(A[i], single, dtype)
                if "cond" in name:  # known σ: geometric from 1 to 1/κ
                    kappa = float(name.split("cond")[1])
                    sigma = zoo.geometric_spectrum(min(A[i].shape), kappa)
                    testing.assert_close(single[1], sigma, rtol=0, atol=30 * testing.eps(dtype))
            except AssertionError as err:
                raise AssertionError(f"zoo matrix {name!r} ({dtype})") from err


def test_without_preconditioning(rng):
    shape = (8, 5)  # wide inputs take the same path through Aᵀ
    # Jacobi on A itself: U from normalized columns (completed where σ ≈ 0).
    full = rng.standard_normal(shape)
    deficient = zoo.with_singular_values(rng, *shape, np.array([3.0, 2.0, 1.0, 0.0, 0.0]))
    A = np.stack([full, deficient, np.zeros(shape)]).astype(np.float32)
    plain = jaxla.svd(A, precondition=False)
    _check_lapack(A, plain, np.float32)
    testing.assert_close(plain.S, jaxla.svd(A).S, rtol=0, atol=1e-5)


def test_graded_relative_accuracy(rng):
    # Column-graded A = B D: Jacobi gets *every* σ to high relative accuracy
    # (Demmel & Veselić 1992), although σ_min/σ_max ≈ 1e-7 in float32.
    D = np.logspace(0, -6, 8)
    A = rng.standard_normal((8, 8)) * D[None, :]
    ref = np.linalg.svd(A, compute_uv=False)
    result = jaxla.svd(A.astype(np.float32))
    rel = np.abs(np.asarray(result.S, np.float64) - ref) / ref
    assert rel.max() < 100 * testing.eps(np.float32)
    _check_lapack(A.astype(np.float32), result, np.float32)


def test_rank_two_example():
    # ALGORITHMS.md: [[1,2,3],[4,5,6],[7,8,9]] has rank 2; its rank-2 truncation is exact.
    A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]], np.float32)
    U, S, Vh = jaxla.svd(A)
    eps = testing.eps(np.float32)
    assert S[2] < 10 * eps * S[0]
    assert S[1] > 0.5
    truncated = (U[:, :2] * S[:2]) @ Vh[:2]
    assert np.linalg.norm(truncated - A) / np.linalg.norm(A) < 10 * eps
    _check_lapack(A, (U, S, Vh), np.float32)


@pytest.mark.parametrize("shape", [(8, 5), (5, 8)])
def test_rank_deficient_vectors_stay_orthonormal(shape, rng):
    A = zoo.with_singular_values(rng, *shape, np.array([3.0, 2.0, 1.0, 0, 0])).astype(np.float32)
    result = jaxla.svd(A)
    _check_lapack(A, result, np.float32)
    assert np.all(np.asarray(result.S[3:]) < 10 * testing.eps(np.float32) * 3.0)


@pytest.mark.parametrize("full_matrices", [False, True])
def test_zero_matrix(full_matrices):
    A = np.zeros((8, 5), np.float32)
    U, S, Vh = jaxla.svd(A, full_matrices=full_matrices)
    assert np.all(np.isfinite(U)) and np.all(np.isfinite(Vh))
    np.testing.assert_array_equal(S, 0.0)
    assert testing.orthogonality_residual(U) < 30
    assert testing.orthogonality_residual(np.asarray(Vh).T) < 30


def test_one_by_one_negative():
    U, S, Vh = jaxla.svd(np.array([[-3.0]], np.float32))
    np.testing.assert_allclose(S, [3.0])
    np.testing.assert_allclose(U @ (S[:, None] * Vh), [[-3.0]])


@pytest.mark.parametrize("shape", [(0, 4), (4, 0), (2, 0, 0)])
@pytest.mark.parametrize("full_matrices", [False, True])
def test_empty(shape, full_matrices):
    ref = np.linalg.svd(np.zeros(shape), full_matrices=full_matrices)
    out = jaxla.svd(np.zeros(shape, np.float32), full_matrices=full_matrices)
    for got, want in zip(out, ref):
        assert got.shape == want.shape


def test_tiny_and_huge_scales(rng):
    A = rng.standard_normal((8, 5))
    for scale in (1e-30, 1e30):
        result = jaxla.svd((scale * A).astype(np.float32))
        assert np.all(np.isfinite(result.S))
        _check_lapack((scale * A).astype(np.float32), result, np.float32)


def test_nan_input_gives_nan_and_stops():
    A = np.ones((8, 5), np.float32)
    A[1, 2] = np.nan
    U, S, Vh = jax.jit(jaxla.svd)(A)
    assert np.all(np.isnan(S))
    *_, sweeps = svd_module._jacobi_columns(jnp.full((4, 4), jnp.nan), 30)
    assert int(sweeps) == 1


def test_sweep_bound_matters(rng):
    A = rng.standard_normal((12, 12)).astype(np.float32)
    W, V, sweeps = svd_module._jacobi_columns(jnp.asarray(A), 30)
    assert 2 < int(sweeps) < 30
    W1, _, one = svd_module._jacobi_columns(jnp.asarray(A), 1)
    assert int(one) == 1

    def off(W):
        W = np.asarray(W, np.float64)
        G = W.T @ W
        d = np.sqrt(np.diag(G))
        return np.max(np.abs(G / np.outer(d, d) - np.eye(len(d))))

    assert off(W) < 1e-5 < off(W1)


def _max_cosine(W):
    """max |cos∠(w_i, w_j)| over column pairs, in float64."""
    W = np.asarray(W, np.float64)
    G = W.T @ W
    d = np.sqrt(np.diag(G))
    return np.max(np.abs(G / np.outer(d, d) - np.eye(len(d))))


@pytest.mark.parametrize("m, n", [(21, 21), (40, 21), (64, 64), (3, 2)])
def test_block_engine(m, n, rng):
    # n = 21: 4 blocks of 6 (3 zero padding columns), 3 rounds per sweep;
    # 64: 8 blocks of 8; (3, 2): one pair of 1-column blocks.
    A = rng.standard_normal((m, n)).astype(np.float32)
    W, V, sweeps = svd_module._jacobi_columns(jnp.asarray(A), 30)
    W, V = np.asarray(W, np.float64), np.asarray(V, np.float64)
    assert W.shape == (m, n) and V.shape == (n, n)
    assert testing.orthogonality_residual(V, np.float32) < 30
    assert testing.scaled_residual(A @ V, W, np.float32) < 30  # W = A V
    tol = np.sqrt(m) * testing.eps(np.float32)
    assert _max_cosine(W) < 4 * tol  # stopped at 2·tol, measured in float32
    assert 1 <= int(sweeps) < 30


def test_block_engine_starting_matrix(rng):
    # With V0, the engine returns (W V0 V, V0 V) from W V0: V0 is carried along.
    A = rng.standard_normal((24, 24)).astype(np.float32)
    V0, _ = np.linalg.qr(rng.standard_normal((24, 24)))
    V0 = V0.astype(np.float32)
    W, V, _ = svd_module._jacobi_columns(jnp.asarray(A @ V0), 30, jnp.asarray(V0))
    W, V = np.asarray(W, np.float64), np.asarray(V, np.float64)
    assert testing.orthogonality_residual(V, np.float32) < 30
    assert testing.scaled_residual(A.astype(np.float64) @ V, W, np.float32) < 30
    assert _max_cosine(W) < 4 * np.sqrt(24) * testing.eps(np.float32)


def test_eigenvector_preconditioner_choice(rng):
    flat = rng.standard_normal((40, 40))
    graded = flat * np.logspace(0, -4, 40)[None, :]  # column norms 1e4 apart
    # Flat columns: V0 = eigenvectors of R Rᵀ, Rᵀ V0 nearly orthogonal, and
    # Jacobi needs far fewer sweeps from there.
    R = jnp.linalg.qr(jnp.asarray(flat, jnp.float32))[1]
    W0, V0 = svd_module._eigenvector_preconditioner(R)
    assert testing.orthogonality_residual(V0, np.float32) < 30
    assert not np.allclose(V0, np.eye(40))
    testing.assert_close(W0, R.T @ V0, rtol=0, atol=1e-5)
    assert _max_cosine(W0) < 1e-3
    _, _, preconditioned = svd_module._jacobi_columns(W0, 30, V0)
    _, _, plain = svd_module._jacobi_columns(R.T, 30)
    assert int(preconditioned) + 3 <= int(plain)
    # Graded columns keep plain Jacobi on Rᵀ, exactly.
    R = jnp.linalg.qr(jnp.asarray(graded, jnp.float32))[1]
    W0, V0 = svd_module._eigenvector_preconditioner(R)
    np.testing.assert_array_equal(V0, np.eye(40))
    np.testing.assert_array_equal(W0, R.T)
    # So do zero columns and NaN.
    for bad in (R.at[:, 3].set(0.0), R.at[2, 5].set(jnp.nan)):
        _, V0 = svd_module._eigenvector_preconditioner(bad)
        np.testing.assert_array_equal(V0, np.eye(40))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zoo_lapack_criteria_several_blocks(dtype, request):
    # n = 40: 6 blocks of 7 (2 padding columns), 5 rounds per sweep; the
    # zoo has both preconditioned (flat columns) and plain (graded) inputs.
    if dtype == "float64":
        request.getfixturevalue("x64")
    cases = [(name, a) for name, a in zoo.general_zoo(dtype, n=40) if a.shape == (40, 40)]
    names = [name for name, _ in cases]
    A = np.stack([a for _, a in cases]).astype(dtype)
    result = jaxla.svd(A)
    for i, name in enumerate(names):
        single = tuple(np.asarray(x[i]) for x in result)
        try:
            _check_lapack(A[i], single, dtype)
        except AssertionError as err:
            raise AssertionError(f"zoo matrix {name!r} ({dtype})") from err


def test_graded_relative_accuracy_several_blocks(rng):
    # As test_graded_relative_accuracy with 40 columns (plain Jacobi path):
    # the relative error is bounded by eps·κ(B) for A = B D (Demmel &
    # Veselić), not by eps·κ(A) ≈ 1e6·eps·κ(B) as for a normwise-stable SVD.
    D = np.logspace(0, -6, 40)
    A = (rng.standard_normal((40, 40)) * D[None, :]).astype(np.float32)
    A64 = A.astype(np.float64)
    ref = np.linalg.svd(A64, compute_uv=False)
    kappa_b = np.linalg.cond(A64 / np.linalg.norm(A64, axis=0))
    result = jaxla.svd(A)
    rel = np.abs(np.asarray(result.S, np.float64) - ref) / ref
    assert rel.max() < testing.eps(np.float32) * kappa_b
    _check_lapack(A, result, np.float32)


def test_vmap_matches_batch(rng):
    A = rng.standard_normal((3, 8, 5)).astype(np.float32)
    batched = jaxla.svd(A)
    mapped = jax.vmap(jaxla.svd)(A)
    testing.assert_close(mapped.S, batched.S)
    testing.assert_eigvecs_close(mapped.U, batched.U)


def _sign_invariant_loss(A, C, D):
    U, S, Vh = jaxla.svd(A)
    P = U[:, :2] @ U[:, :2].T  # projector: independent of the signs
    Q = Vh[:2].T @ Vh[:2]
    return jnp.sum(S * jnp.arange(1.0, S.shape[0] + 1.0)) + jnp.sum(P * C) + jnp.sum(Q * D)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6)])
def test_grad_matches_finite_differences(shape, rng, x64):
    A = zoo.with_singular_values(rng, *shape, np.array([4.0, 3.0, 2.0, 1.0][:min(shape)]))
    C = rng.standard_normal((shape[0], shape[0]))
    D = rng.standard_normal((shape[1], shape[1]))
    value_and_grad = jax.jit(jax.value_and_grad(lambda a: _sign_invariant_loss(a, C, D)))
    grad = np.asarray(value_and_grad(jnp.asarray(A))[1])
    loss = lambda a: float(value_and_grad(jnp.asarray(a))[0])  # noqa: E731
    # Central differences along random directions.
    h = 1e-6
    for _ in range(3):
        E = rng.standard_normal(shape)
        fd = (loss(A + h * E) - loss(A - h * E)) / (2 * h)
        np.testing.assert_allclose(np.sum(grad * E), fd, rtol=1e-6, atol=1e-7)


def test_jvp_singular_values(rng, x64):
    # Forward mode: dσᵢ = uᵢᵀ dA vᵢ.
    A = zoo.with_singular_values(rng, 6, 4, np.array([4.0, 3.0, 2.0, 1.0]))
    E = rng.standard_normal((6, 4))
    _, tangent = jax.jvp(jaxla.svd, (jnp.asarray(A),), (jnp.asarray(E),))
    U, _, Vh = np.linalg.svd(A, full_matrices=False)
    np.testing.assert_allclose(tangent.S, np.einsum("ik,ij,kj->k", U, E, Vh),
                               rtol=1e-10, atol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="`A` must have at least 2"):
        jaxla.svd(np.ones(3))
    with pytest.raises(TypeError, match="`A` must be real"):
        jaxla.svd(np.ones((2, 2), np.complex64))
    with pytest.raises(TypeError, match="`A` must have a floating"):
        jaxla.svd(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="`full_matrices` must be a bool"):
        jaxla.svd(np.ones((2, 2)), full_matrices="yes")
    with pytest.raises(ValueError, match="`max_sweeps` must be >= 1"):
        jaxla.svd(np.ones((2, 2)), max_sweeps=0)
    with pytest.raises(TypeError, match="`precondition` must be a bool"):
        jaxla.svd(np.ones((2, 2)), precondition=None)


def test_integer_input_promotes():
    result = jaxla.svd(np.array([[3, 0], [0, 4]]))
    assert result.S.dtype == jnp.float32
    np.testing.assert_allclose(result.S, [4.0, 3.0])
