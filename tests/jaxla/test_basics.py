"""jaxla.basics: norms, normalize, cosine similarity, trace under jit/vmap/grad."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxla
from torchbridge import testing


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("ord", [1, 2, np.inf])
def test_vector_norm(jit, ord, rng):
    x = rng.standard_normal((3, 9)).astype(np.float32)
    f = jax.jit(jaxla.vector_norm, static_argnums=1) if jit else jaxla.vector_norm
    testing.assert_close(f(x, ord), np.linalg.norm(x, ord=ord, axis=-1))


def test_l2_norm_neither_overflows_nor_underflows():
    big = jnp.full((4,), 1e30, jnp.float32)
    tiny = jnp.full((4,), 1e-30, jnp.float32)
    testing.assert_close(jaxla.vector_norm(big), 2e30)
    testing.assert_close(jaxla.vector_norm(tiny), 2e-30)


def test_frobenius_equals_sqrt_trace(rng):
    a = rng.standard_normal((5, 4))
    testing.assert_close(jaxla.matrix_norm(a), np.sqrt(np.trace(a.T @ a)))


def test_trace_identities(rng, x64):
    a, b = rng.standard_normal((2, 5, 5))
    testing.assert_close(jaxla.trace(a @ b), jaxla.trace(b @ a))
    testing.assert_close(jaxla.trace(a), np.sum(np.linalg.eigvals(a)).real)


def test_vmap_and_grad():
    x = jnp.arange(1.0, 7.0).reshape(2, 3)
    y = jnp.ones((2, 3))
    np.testing.assert_allclose(jax.vmap(jaxla.cosine_similarity)(x, y),
                               jaxla.cosine_similarity(x, y), rtol=1e-6)
    g = jax.grad(lambda v: jnp.sum(jaxla.normalize(v)))(jnp.zeros(3))
    assert np.all(np.isfinite(g))  # the zero vector has a finite gradient
    g = jax.grad(lambda v: jaxla.vector_norm(v))(jnp.array([3.0, 4.0]))
    testing.assert_close(g, [0.6, 0.8])


def test_normalize_zero_and_cosine_bounds(rng):
    assert np.all(np.asarray(jaxla.normalize(jnp.zeros(4))) == 0)
    x = rng.standard_normal((10, 6))
    c = np.asarray(jaxla.cosine_similarity(x, -2 * x))
    testing.assert_close(c, -np.ones(10))


def test_integer_input_is_promoted():
    assert jaxla.vector_norm(jnp.arange(3)).dtype == jnp.float32


def test_bad_input():
    with pytest.raises(ValueError, match="`ord` must be one of"):
        jaxla.vector_norm(jnp.ones(3), 3)
    with pytest.raises(ValueError, match="`A` must be square"):
        jaxla.trace(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="`x` and `y` must have the same shape"):
        jaxla.cosine_similarity(jnp.ones(3), jnp.ones(4))
    with pytest.raises(TypeError, match="`x` must have a floating"):
        jaxla.vector_norm(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="`A` must have at least 2 dimension"):
        jaxla.matrix_norm(jnp.ones(3))
