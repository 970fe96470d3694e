"""Basics: vector and matrix norms, normalization, cosine similarity, trace.

Cheap, but part of the surface every later module leans on. Conventions follow
`jnp.linalg.norm`, with two deliberate differences: `normalize` and
`cosine_similarity` guard the zero vector (result 0, finite gradients) instead
of returning NaN, and the spectral/nuclear norms are not offered here (they
need an SVD; see `jaxla.svd`).

Reference: Golub & Van Loan, Matrix Computations (4th ed.), section 2.3.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxla import _validate

_VECTOR_ORDS = (1, 2, jnp.inf)
_MATRIX_ORDS = ("fro", 1, jnp.inf)


def vector_norm(x: jax.Array, ord: int | float = 2, axis: int = -1) -> jax.Array:
    """L1, L2 or L-infinity norm along `axis`.

    Args:
      x: array (..., n).
      ord: 1, 2 or `jnp.inf`.
      axis: the reduced axis.

    Returns:
      Array of norms with `axis` removed. The L2 norm is computed as
      `max|x| * ||x / max|x|||` so it neither overflows nor underflows, and its
      gradient at the zero vector is 0 instead of NaN.
    """
    x = _validate.as_float_array(x, "x")
    _validate.check_ndim(x, "x", min_ndim=1)
    if ord not in _VECTOR_ORDS:
        raise ValueError(f"`ord` must be one of 1, 2, inf; got {ord!r}.")
    a = jnp.abs(x)
    if ord == 1:
        return jnp.sum(a, axis=axis)
    if ord == jnp.inf:
        return jnp.max(a, axis=axis, initial=0.0)
    # Scale by max|x| (no overflow/underflow), and keep the gradient finite at
    # x = 0: sqrt'(0) is infinite, so the zero vector takes the subgradient 0.
    scale = jax.lax.stop_gradient(jnp.max(a, axis=axis, keepdims=True, initial=0.0))
    safe = jnp.where(scale > 0, scale, 1.0)
    sumsq = jnp.sum((x / safe) * jnp.conj(x / safe), axis=axis).real
    positive = sumsq > 0
    root = jnp.sqrt(jnp.where(positive, sumsq, 1.0))
    return jnp.where(positive, jnp.squeeze(safe, axis) * root, 0.0)


def matrix_norm(A: jax.Array, ord: str | int | float = "fro") -> jax.Array:
    """Frobenius (sqrt(tr AᵀA)), 1 (max column sum) or inf (max row sum) norm.

    Args:
      A: array (..., m, n).
      ord: "fro", 1 or `jnp.inf`.
    """
    A = _validate.as_float_array(A, "A")
    _validate.check_matrix(A, "A")
    if ord not in _MATRIX_ORDS:
        raise ValueError(f"`ord` must be one of 'fro', 1, inf; got {ord!r}.")
    a = jnp.abs(A)
    if ord == "fro":
        return vector_norm(A.reshape(*A.shape[:-2], -1), 2)
    if ord == 1:
        return jnp.max(jnp.sum(a, axis=-2), axis=-1, initial=0.0)
    return jnp.max(jnp.sum(a, axis=-1), axis=-1, initial=0.0)


def normalize(x: jax.Array, axis: int = -1) -> jax.Array:
    """x / ||x||₂ along `axis`; the zero vector maps to zero (no NaN)."""
    x = _validate.as_float_array(x, "x")
    _validate.check_ndim(x, "x", min_ndim=1)
    n = jnp.expand_dims(vector_norm(x, 2, axis), axis)
    return jnp.where(n > 0, x / jnp.where(n > 0, n, 1.0), 0.0)


def cosine_similarity(x: jax.Array, y: jax.Array, axis: int = -1) -> jax.Array:
    """<x, y> / (||x|| ||y||) along `axis`; 0 when either vector is zero."""
    x = _validate.as_float_array(x, "x")
    y = _validate.as_float_array(y, "y")
    if x.shape != y.shape:
        raise ValueError(
            f"`x` and `y` must have the same shape; got {x.shape} and {y.shape}."
        )
    return jnp.sum(normalize(x, axis) * normalize(y, axis), axis=axis)


def trace(A: jax.Array) -> jax.Array:
    """Sum of the diagonal of a (batch of) square matrix: tr(A) = Σλᵢ."""
    A = _validate.as_float_array(A, "A")
    _validate.check_square(A, "A")
    return jnp.trace(A, axis1=-2, axis2=-1)
