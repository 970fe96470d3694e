"""Tests for `jaxla.expm` and `jaxla.funm_eigh`: every Padé branch against
SciPy, the identities of ALGORITHMS.md, transformations and bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import jaxla
from torchbridge import testing


def _with_norm(rng, n, norm1, batch=()):
    A = rng.standard_normal((*batch, n, n))
    return A * (norm1 / np.linalg.norm(A, ord=1, axis=(-2, -1)))[..., None, None]


# 1-norms that select every branch: float64 degrees 3/5/7/9/13 (+ squarings),
# float32 degrees 3/5/7 (+ squarings).
NORMS64 = [1e-2, 0.2, 0.9, 2.0, 5.0, 40.0]
NORMS32 = [0.3, 1.5, 3.5, 40.0]


@pytest.mark.parametrize("norm1", NORMS64)
def test_expm_float64_every_degree(norm1, rng, x64):
    A = _with_norm(rng, 6, norm1)
    got = jaxla.expm(A)
    assert got.dtype == jnp.float64
    want = scipy.linalg.expm(A)
    # Relative error ~ cond(exp, A)·eps, which grows like ‖A‖.
    scale = max(1.0, norm1)
    assert testing.relative_error(got, want) < 20 * scale * testing.eps(np.float64)


@pytest.mark.parametrize("norm1", NORMS32)
def test_expm_float32_every_degree(norm1, rng):
    A = _with_norm(rng, 6, norm1)
    got = jaxla.expm(A.astype(np.float32))
    assert got.dtype == jnp.float32
    scale = max(1.0, norm1)
    assert testing.relative_error(got, scipy.linalg.expm(A)) < 20 * scale * testing.eps(np.float32)


def test_pade_coefficients_match_higham():
    # Higham (2005), eq. (2.2) / Table: b_0 … b_13 of the [13/13] approximant.
    b13 = np.array([64764752532480000, 32382376266240000, 7771770303897600,
                    1187353796428800, 129060195264000, 10559470521600, 670442572800,
                    33522128640, 1323241920, 40840800, 960960, 16380, 182, 1], float)
    matfun = __import__("jaxla.matfun", fromlist=["_pade_coefficients"])
    np.testing.assert_allclose(matfun._pade_coefficients(13), b13, rtol=1e-14)
    np.testing.assert_allclose(matfun._pade_coefficients(3), [120, 60, 12, 1], rtol=1e-14)


def test_rotation_example():
    # ALGORITHMS.md: exp([[0, −1], [1, 0]]) = [[cos 1, −sin 1], [sin 1, cos 1]].
    got = jax.jit(jaxla.expm)(np.array([[0.0, -1.0], [1.0, 0.0]], np.float32))
    c, s = np.cos(1.0), np.sin(1.0)
    testing.assert_close(got, np.array([[c, -s], [s, c]]))


def test_skew_symmetric_gives_rotation(rng, x64):
    B = rng.standard_normal((5, 5))
    K = 3.0 * (B - B.T)
    R = np.asarray(jaxla.expm(K))
    assert testing.orthogonality_residual(R) < 30 * max(1.0, np.linalg.norm(K, 1))
    assert abs(np.linalg.det(R) - 1.0) < 1e-12


def test_commuting_sum(rng, x64):
    # A and B are polynomials of the same matrix, so AB = BA and exp(A+B) = exp(A)exp(B).
    M = 0.5 * rng.standard_normal((5, 5))
    A, B = M + 0.3 * M @ M, 2.0 * M - np.eye(5)
    np.testing.assert_allclose(A @ B, B @ A, atol=1e-12)
    lhs = jaxla.expm(A + B)
    rhs = jaxla.expm(A) @ jaxla.expm(B)
    assert testing.relative_error(lhs, rhs) < 1e-12
    # …and it fails for a non-commuting pair (so the check above can fail).
    C = rng.standard_normal((5, 5))
    assert testing.relative_error(jaxla.expm(A + C), jaxla.expm(A) @ jaxla.expm(C)) > 1e-3


def test_special_matrices():
    testing.assert_close(jaxla.expm(np.zeros((3, 3), np.float32)), np.eye(3))
    testing.assert_close(jaxla.expm(np.array([[2.0]], np.float32)), [[np.exp(2.0)]])
    D = np.diag([-50.0, 0.0, 3.0]).astype(np.float32)
    testing.assert_close(jaxla.expm(D), np.diag(np.exp(np.diag(D))))
    assert jaxla.expm(np.zeros((0, 0), np.float32)).shape == (0, 0)
    N = np.array([[0.0, 1.0], [0.0, 0.0]], np.float32)  # nilpotent: exp(N) = I + N
    testing.assert_close(jaxla.expm(N), np.eye(2) + N)


def test_batch_and_vmap(rng):
    A = _with_norm(rng, 4, 3.0, (2, 3)).astype(np.float32)
    want = scipy.linalg.expm(A.astype(np.float64))
    got = jaxla.expm(A)
    assert got.shape == A.shape
    assert testing.relative_error(got, want) < 1e-5
    assert testing.relative_error(jax.vmap(jaxla.expm)(A[0]), want[0]) < 1e-5


def test_nonfinite_and_too_many_squarings():
    A = np.eye(3, dtype=np.float32)
    A[0, 1] = np.nan
    assert np.all(np.isnan(jaxla.expm(A)))
    big = 100.0 * np.eye(2, dtype=np.float32)
    assert np.all(np.isnan(jaxla.expm(big, max_squarings=2)))
    assert np.all(np.isfinite(jaxla.expm(big / 10, max_squarings=2)))


@pytest.mark.parametrize("norm1", [8.0])
def test_expm_grad_matches_finite_differences(norm1, rng, x64):
    A = _with_norm(rng, 4, norm1)
    W = rng.standard_normal((4, 4))
    loss = jax.jit(lambda a: jnp.sum(W * jaxla.expm(a)))
    grad = np.asarray(jax.jit(jax.grad(loss))(jnp.asarray(A)))
    h = 1e-6
    for _ in range(3):
        E = rng.standard_normal((4, 4))
        fd = (loss(A + h * E) - loss(A - h * E)) / (2 * h)
        np.testing.assert_allclose(np.sum(grad * E), fd, rtol=1e-6)
        # The exact Fréchet derivative from the block formula
        # exp([[A, E], [0, A]]) = [[e^A, L(A, E)], [0, e^A]].
        block = scipy.linalg.expm(np.block([[A, E], [np.zeros((4, 4)), A]]))
        np.testing.assert_allclose(np.sum(grad * E), np.sum(W * block[:4, 4:]), rtol=1e-9)


def test_expm_bad_input():
    with pytest.raises(ValueError, match="`A` must be square"):
        jaxla.expm(np.ones((2, 3)))
    with pytest.raises(ValueError, match="`A` must have at least 2"):
        jaxla.expm(np.ones(3))
    with pytest.raises(TypeError, match="`A` must be real"):
        jaxla.expm(np.eye(2, dtype=np.complex64))
    with pytest.raises(TypeError, match="`max_squarings` must be a static Python int"):
        jaxla.expm(np.eye(2), max_squarings=2.5)


# ------------------------------------------------------------------ funm_eigh
def _spd(rng, n, batch=()):
    B = rng.standard_normal((*batch, n, n))
    return B @ np.swapaxes(B, -1, -2) / n + 0.5 * np.eye(n)


def test_funm_eigh_sqrt_squares_back(rng):
    A = _spd(rng, 6, (2,)).astype(np.float32)
    S = jaxla.funm_eigh(A, jnp.sqrt)
    testing.assert_close(S, np.swapaxes(S, -1, -2))
    testing.assert_close(S @ S, A, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(S[0], scipy.linalg.sqrtm(A[0].astype(np.float64)),
                               rtol=1e-5, atol=1e-5)


def test_funm_eigh_exp_matches_expm(rng, x64):
    A = _spd(rng, 5) - 2.0 * np.eye(5)
    testing.assert_close(jaxla.funm_eigh(A, jnp.exp), scipy.linalg.expm(A))
    inv = jaxla.funm_eigh(A + 3.0 * np.eye(5), lambda w: 1.0 / w)
    testing.assert_close(inv @ (A + 3.0 * np.eye(5)), np.eye(5), atol=1e-12)


def test_funm_eigh_uses_symmetric_part(rng):
    A = _spd(rng, 4).astype(np.float32)
    skew = np.triu(np.ones((4, 4), np.float32), 1)
    testing.assert_close(jaxla.funm_eigh(A + skew - skew.T, jnp.exp), jaxla.funm_eigh(A, jnp.exp))


def test_funm_eigh_jit_vmap_grad(rng, x64):
    A = _spd(rng, 4, (3,))
    f = lambda a: jaxla.funm_eigh(a, jnp.log)  # noqa: E731
    testing.assert_close(jax.jit(f)(A), jax.vmap(f)(A))
    # d/dt tr log(A + tE) = tr(A⁻¹ E).
    E = rng.standard_normal((4, 4))
    E = E + E.T
    g = jax.grad(lambda a: jnp.trace(f(a)))(jnp.asarray(A[0]))
    np.testing.assert_allclose(np.sum(g * E), np.trace(np.linalg.solve(A[0], E)), rtol=1e-9)


def test_funm_eigh_bad_input():
    with pytest.raises(TypeError, match="`f` must be callable"):
        jaxla.funm_eigh(np.eye(2), "exp")
    with pytest.raises(ValueError, match="`A` must be square"):
        jaxla.funm_eigh(np.ones((2, 3)), jnp.exp)
    with pytest.raises(ValueError, match="`f` must map the eigenvalues"):
        jaxla.funm_eigh(np.eye(2), jnp.sum)
