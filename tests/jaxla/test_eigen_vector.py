"""Tests for jaxla.eigen: power, inverse, Rayleigh-quotient iteration, deflation,
generalized eigh (worked examples, hard cases, transforms, gradients, errors)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import zoo  # tests/jaxla/zoo.py
from jax.tree_util import Partial

import jaxla
from torchbridge import testing

S17 = np.sqrt(17.0)


def _matvec(A, x):
    return A @ x


# ------------------------------------------------------------ worked examples
@pytest.mark.parametrize("jit", [False, True])
def test_worked_example_4223(jit):
    """[[4,2],[2,3]]: power -> (7+√17)/2, inverse (σ=0) -> (7−√17)/2, same as eigh."""
    A = jnp.array([[4.0, 2.0], [2.0, 3.0]])
    v0 = jnp.array([1.0, 0.3])
    wrap = jax.jit if jit else (lambda f: f)
    big = wrap(jaxla.power_iteration)(A, v0)
    small = wrap(jaxla.inverse_iteration)(A, v0)
    rqi = wrap(jaxla.rayleigh_quotient_iteration)(A, jnp.array([1.0, 0.0]))
    w, V = np.linalg.eigh(np.asarray(A, np.float64))
    testing.assert_close(big.value, (7 + S17) / 2)
    testing.assert_close(small.value, (7 - S17) / 2)
    testing.assert_close(rqi.value, (7 + S17) / 2)
    testing.assert_eigvecs_close(big.vector[:, None], V[:, 1:], atol=1e-5)
    testing.assert_eigvecs_close(small.vector[:, None], V[:, :1], atol=1e-5)
    assert bool(big.converged) and bool(small.converged) and bool(rqi.converged)
    assert int(rqi.num_iters) < int(big.num_iters)  # cubic vs linear convergence


def test_worked_example_2112(x64):
    A = jnp.array([[2.0, 1.0], [1.0, 2.0]])
    big = jaxla.power_iteration(A, jnp.array([1.0, 0.0]), tol=1e-12)
    small = jaxla.inverse_iteration(A, jnp.array([1.0, 0.0]), tol=1e-12)
    testing.assert_close(big.value, 3.0)
    testing.assert_close(small.value, 1.0)
    testing.assert_eigvecs_close(big.vector[:, None], np.array([[1.0], [1.0]]) / np.sqrt(2))
    testing.assert_eigvecs_close(small.vector[:, None], np.array([[1.0], [-1.0]]) / np.sqrt(2))


@pytest.mark.parametrize("A,lam", [([[4.0, 2.0], [1.0, 3.0]], 5.0),
                                   ([[3.0, 1.0], [0.0, 2.0]], 3.0)])
def test_nonsymmetric_worked_examples(x64, A, lam):
    res = jaxla.power_iteration(jnp.array(A), jnp.array([1.0, 1.0]), tol=1e-12)
    testing.assert_close(res.value, lam)
    assert bool(res.converged)
    Av = np.asarray(A) @ np.asarray(res.vector)
    testing.assert_close(Av, lam * np.asarray(res.vector), atol=1e-10)


# ------------------------------------------------------------------ hard cases
def test_defective_matrix():
    """[[0,1],[0,0]]: A(0,1) = (1,0), A(1,0) = 0, so (0, e1) is found exactly."""
    res = jaxla.power_iteration(jnp.array([[0.0, 1.0], [0.0, 0.0]]), jnp.array([0.0, 1.0]))
    assert float(res.value) == 0.0 and float(res.residual) == 0.0
    testing.assert_close(res.vector, [1.0, 0.0])
    assert bool(res.converged)


def test_zero_and_one_by_one():
    zero = jaxla.power_iteration(jnp.zeros((3, 3)), jnp.ones(3))
    assert float(zero.value) == 0.0 and bool(zero.converged) and int(zero.num_iters) == 0
    one = jaxla.inverse_iteration(jnp.array([[-2.5]]), jnp.array([3.0]))
    testing.assert_close(one.value, -2.5)
    testing.assert_close(jnp.abs(one.vector), [1.0])


def test_plus_minus_pair_does_not_converge():
    """|λ₁| = |λ₂| with λ₁ = −λ₂: no dominant eigenvalue, loop stops at max_iters."""
    res = jaxla.power_iteration(jnp.diag(jnp.array([2.0, -2.0, 1.0])), jnp.ones(3), max_iters=40)
    assert not bool(res.converged)
    assert int(res.num_iters) == 40


@pytest.mark.parametrize("fn", [jaxla.power_iteration, jaxla.inverse_iteration,
                                jaxla.rayleigh_quotient_iteration])
def test_nan_input_stops_at_once(fn):
    A = jnp.array([[1.0, jnp.nan], [2.0, 3.0]])
    res = jax.jit(fn)(A, jnp.ones(2))
    assert not bool(res.converged)
    assert int(res.num_iters) == 0


def test_shift_equal_to_eigenvalue_converges_in_one_step():
    A = jnp.diag(jnp.array([1.0, 2.0, 3.0]))
    res = jaxla.inverse_iteration(A, jnp.ones(3), shift=2.0)
    testing.assert_close(res.value, 2.0)
    testing.assert_eigvecs_close(res.vector[:, None], np.array([[0.0], [1.0], [0.0]]))
    assert int(res.num_iters) == 1


def test_inverse_iteration_singular_matrix():
    """σ = 0 on a singular A: the zero pivot is perturbed, not inf."""
    A = jnp.array([[1.0, 1.0], [1.0, 1.0]])
    res = jaxla.inverse_iteration(A, jnp.array([1.0, 0.0]))
    assert bool(res.converged)
    testing.assert_close(res.value, 0.0, atol=1e-6)
    testing.assert_eigvecs_close(res.vector[:, None], np.array([[1.0], [-1.0]]) / np.sqrt(2))


def test_clustered_dominant_pair_converges_slowly_but_correctly(x64, rng):
    A = zoo.symmetric(rng, [1.0, 0.99, 0.5, 0.1, -0.2])
    res = jaxla.power_iteration(A, rng.standard_normal(5), tol=1e-10, max_iters=5000)
    assert bool(res.converged) and int(res.num_iters) > 500
    testing.assert_close(res.value, 1.0, rtol=1e-9)


def test_graded_matrix_inverse_iteration(x64):
    """Graded diagonal 1, 1e-4, ..., 1e-16 with small couplings: the tiny end is found."""
    d = 10.0 ** -np.arange(0, 20, 4)
    A = np.diag(d) + np.diag(1e-3 * np.sqrt(d[:-1] * d[1:]), 1)
    A = A + np.triu(A, 1).T
    res = jaxla.inverse_iteration(A, np.ones(5), tol=1e-12)
    w = np.linalg.eigvalsh(A)
    assert bool(res.converged)
    # λ = vᵀAv is normwise accurate (|error| ≲ eps‖A‖ = 2e-16 here); grading makes
    # it much better than that relative to the 1e-16 eigenvalue.
    testing.assert_close(res.value, w[np.argmin(np.abs(w))], rtol=1e-3, atol=0)


def test_large_matrix_power_iteration(rng):
    """n = 1000: A = U diag(10, 5, 3) Uᵀ + 0.01 I, so λ_max = 10.01 exactly."""
    n = 1000
    U, _ = np.linalg.qr(rng.standard_normal((n, 3)))
    A = ((U * np.array([10.0, 5.0, 3.0])) @ U.T + 0.01 * np.eye(n)).astype(np.float32)
    res = jax.jit(jaxla.power_iteration)(A, jnp.ones(n))
    assert bool(res.converged)
    testing.assert_close(res.value, 10.01, rtol=1e-5)
    testing.assert_eigvecs_close(res.vector[:, None], U[:, :1], atol=1e-5)


# -------------------------------------------------------------- transforms
def test_batch_broadcast_and_vmap(rng):
    A = np.stack([zoo.symmetric(rng, [5.0, 2.0, 1.0, -1.0]) for _ in range(3)]).astype(np.float32)
    v0 = rng.standard_normal(4).astype(np.float32)
    batched = jaxla.power_iteration(A, v0)
    mapped = jax.vmap(jaxla.power_iteration, in_axes=(0, None))(A, v0)
    assert batched.value.shape == (3,) and batched.vector.shape == (3, 4)
    testing.assert_close(batched.value, mapped.value)
    testing.assert_close(batched.value, [5.0, 5.0, 5.0])
    inv = jax.vmap(lambda a: jaxla.inverse_iteration(a, v0, shift=0.9))(A)
    testing.assert_close(inv.value, [1.0, 1.0, 1.0])


def test_operator_partial_under_jit(rng):
    A = jnp.asarray(zoo.symmetric(rng, [4.0, 1.0, 0.5]).astype(np.float32))
    op = Partial(_matvec, A)
    res = jax.jit(jaxla.power_iteration)(op, jnp.ones(3))
    testing.assert_close(res.value, 4.0)
    res2 = jaxla.deflated_power_iteration(op, jnp.eye(3)[:, :2] + 0.1)
    testing.assert_close(res2.eigenvalues, [1.0, 4.0])


def test_traced_tol_and_shift(rng):
    A = jnp.asarray(zoo.symmetric(rng, [3.0, 2.0, 1.0]).astype(np.float32))
    f = jax.jit(lambda t, s: jaxla.inverse_iteration(A, jnp.ones(3), shift=s, tol=t).value)
    testing.assert_close(f(1e-6, 2.2), 2.0)
    testing.assert_close(f(1e-6, 0.9), 1.0)


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("fn,kwargs", [(jaxla.power_iteration, {}),
                                       (jaxla.inverse_iteration, {"shift": 1.9}),
                                       (jaxla.rayleigh_quotient_iteration, {})])
def test_gradient_is_v_vT_and_matches_finite_differences(x64, rng, fn, kwargs):
    A = zoo.symmetric(rng, [6.0, 2.0, 1.0, -1.5, 0.5])
    v0 = rng.standard_normal(5)

    def value(a):
        return fn(a, v0, tol=1e-13, **kwargs).value

    grad = np.asarray(jax.grad(value)(jnp.asarray(A)))
    v = np.asarray(fn(A, v0, tol=1e-13, **kwargs).vector)
    testing.assert_close(grad, np.outer(v, v), atol=1e-10)
    E = rng.standard_normal((5, 5))
    E = E + E.T
    h = 1e-6
    fd = (float(value(A + h * E)) - float(value(A - h * E))) / (2 * h)
    testing.assert_close(np.sum(grad * E), fd, rtol=1e-6)


def test_eigenvector_jvp_matches_finite_differences(x64, rng):
    A = zoo.symmetric(rng, [6.0, 2.0, 1.0, -1.5])
    E = rng.standard_normal((4, 4))
    E = E + E.T
    v0 = np.ones(4)

    def vec(a):
        v = jaxla.power_iteration(a, v0, tol=1e-13).vector
        return v * jnp.sign(v[0])

    _, dv = jax.jvp(vec, (jnp.asarray(A),), (jnp.asarray(E),))
    h = 1e-6
    fd = (np.asarray(vec(A + h * E)) - np.asarray(vec(A - h * E))) / (2 * h)
    testing.assert_close(dv, fd, atol=1e-7)


# ---------------------------------------------------------------- deflation
def test_deflated_power_iteration_top_k(x64, rng):
    A = zoo.symmetric(rng, [9.0, -5.0, 3.0, 1.0, 0.5, 0.1])
    res = jax.jit(jaxla.deflated_power_iteration, static_argnames="max_iters")(
        A, rng.standard_normal((6, 3)), tol=1e-12)
    testing.assert_close(res.eigenvalues, [-5.0, 3.0, 9.0], rtol=1e-10)
    assert testing.scaled_residual(A @ res.eigenvectors,
                                   res.eigenvectors * res.eigenvalues, "float64") < 1e4
    testing.assert_close(res.eigenvectors.T @ res.eigenvectors, np.eye(3), atol=1e-10)


def test_deflated_batch(rng):
    A = np.stack([zoo.symmetric(rng, [4.0, 2.0, 1.0]) for _ in range(2)]).astype(np.float32)
    res = jaxla.deflated_power_iteration(A, np.ones((3, 2), np.float32) + np.eye(3, 2))
    assert res.eigenvalues.shape == (2, 2) and res.eigenvectors.shape == (2, 3, 2)
    testing.assert_close(res.eigenvalues, [[2.0, 4.0], [2.0, 4.0]], rtol=1e-5)


# --------------------------------------------------------- generalized eigh
def test_generalized_eigh_matches_scipy(x64, rng):
    A = zoo.symmetric(rng, [3.0, 1.0, -2.0, 0.5])
    X = rng.standard_normal((4, 4))
    B = X @ X.T + 4 * np.eye(4)
    w, V = jax.jit(jaxla.generalized_eigh)(A, B)
    w_ref, V_ref = scipy.linalg.eigh(A, B)
    testing.assert_close(w, w_ref)
    testing.assert_eigvecs_close(V, V_ref)
    testing.assert_close(np.asarray(V).T @ B @ np.asarray(V), np.eye(4), atol=1e-12)


def test_generalized_eigh_not_pd_gives_nan_and_batches():
    A = jnp.eye(2)
    B = jnp.array([[1.0, 2.0], [2.0, 1.0]])
    w, V = jaxla.generalized_eigh(A, B)
    assert np.all(np.isnan(np.asarray(w)))
    w2, V2 = jaxla.generalized_eigh(jnp.stack([A, 2 * A]), jnp.eye(2))
    testing.assert_close(w2, [[1.0, 1.0], [2.0, 2.0]])


def test_generalized_eigh_gradient(x64, rng):
    A = zoo.symmetric(rng, [3.0, 1.0, -2.0])
    B = np.diag([1.0, 2.0, 3.0])
    f = lambda a: jaxla.generalized_eigh(a, B).eigenvalues[-1]  # noqa: E731
    g = jax.grad(f)(jnp.asarray(A))
    E = rng.standard_normal((3, 3))
    E = E + E.T
    h = 1e-6
    fd = (f(A + h * E) - f(A - h * E)) / (2 * h)
    testing.assert_close(jnp.sum(g * E), fd, rtol=1e-6)


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize("fn", [jaxla.power_iteration, jaxla.inverse_iteration,
                                jaxla.rayleigh_quotient_iteration])
def test_zero_start_vector_raises_eagerly(fn):
    with pytest.raises(ValueError, match="`v0` must be a nonzero start vector"):
        fn(jnp.eye(3), jnp.zeros(3))
    res = jax.jit(fn)(jnp.eye(3), jnp.zeros(3))  # under jit: a value, not an exception
    assert not bool(res.converged)


def test_bad_inputs():
    with pytest.raises(ValueError, match="`A` must be square"):
        jaxla.power_iteration(jnp.ones((2, 3)), jnp.ones(3))
    with pytest.raises(ValueError, match="`v0` has shape"):
        jaxla.power_iteration(jnp.eye(3), jnp.ones(4))
    with pytest.raises(ValueError, match="`max_iters` must be >= 1"):
        jaxla.power_iteration(jnp.eye(3), jnp.ones(3), max_iters=0)
    with pytest.raises(TypeError, match="`max_iters` must be a static Python int"):
        jaxla.power_iteration(jnp.eye(3), jnp.ones(3), max_iters=2.5)
    with pytest.raises(TypeError, match="`A` must be real"):
        jaxla.power_iteration(jnp.eye(2, dtype=jnp.complex64), jnp.ones(2))
    with pytest.raises(TypeError, match="`A` must be a dense array"):
        jaxla.inverse_iteration(lambda v: v, jnp.ones(2))
    with pytest.raises(ValueError, match="`V0` must be a nonzero start vector"):
        jaxla.deflated_power_iteration(jnp.eye(3), jnp.eye(3)[:, :2] * jnp.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="`B` has shape"):
        jaxla.generalized_eigh(jnp.eye(2), jnp.eye(3))
    res = jaxla.power_iteration(np.array([[2, 0], [0, 1]]), np.array([1, 1]))  # ints promote
    assert res.value.dtype == jnp.float32
