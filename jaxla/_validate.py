"""Shared input checks for every `jaxla` function.

All checks run at call/trace time on static information (shapes, dtypes,
Python values), so they cost nothing inside compiled code. Messages name the
argument in backticks, say what was expected and what was given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def _is_numeric(dtype: Any) -> bool:
    return any(jnp.issubdtype(dtype, t) for t in (jnp.inexact, jnp.integer, jnp.bool_))


def as_float_array(x: Any, name: str, *, allow_complex: bool = True) -> jax.Array:
    """Return `x` as a floating (or complex) JAX array.

    Integers and booleans are promoted to the default float dtype (float32, or
    float64 when x64 is on). Other dtypes raise `TypeError` naming `name`.
    """
    if isinstance(x, jax.Array):
        arr = x
    else:
        try:
            host = np.asarray(x)
        except (TypeError, ValueError) as err:
            raise TypeError(f"`{name}` must be an array; got {type(x).__name__}.") from err
        if not (_is_numeric(host.dtype)):
            raise TypeError(
                f"`{name}` must have a floating or complex dtype; got {host.dtype}."
            )
        arr = jnp.asarray(host)
    if jnp.issubdtype(arr.dtype, jnp.integer) or jnp.issubdtype(arr.dtype, jnp.bool_):
        return arr.astype(jnp.result_type(float))
    if jnp.issubdtype(arr.dtype, jnp.complexfloating) and not allow_complex:
        raise TypeError(f"`{name}` must be real; got dtype {arr.dtype}.")
    if not jnp.issubdtype(arr.dtype, jnp.inexact):
        raise TypeError(
            f"`{name}` must have a floating or complex dtype; got {arr.dtype}."
        )
    return arr


def check_ndim(x: jax.Array, name: str, *, min_ndim: int | None = None,
               ndim: int | None = None) -> None:
    """Raise `ValueError` unless `x.ndim` equals `ndim` / is at least `min_ndim`."""
    if ndim is not None and x.ndim != ndim:
        raise ValueError(
            f"`{name}` must have {ndim} dimension(s); got shape {tuple(x.shape)}."
        )
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(
            f"`{name}` must have at least {min_ndim} dimension(s); "
            f"got shape {tuple(x.shape)}."
        )


def check_matrix(x: jax.Array, name: str) -> None:
    """`x` must be a (batch of) matrix: shape (..., m, n)."""
    check_ndim(x, name, min_ndim=2)


def check_square(x: jax.Array, name: str) -> None:
    """`x` must be a (batch of) square matrix: shape (..., n, n)."""
    check_matrix(x, name)
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(
            f"`{name}` must be square (..., n, n); got shape {tuple(x.shape)}."
        )


def real_square(x: Any, name: str) -> jax.Array:
    """`x` as a real floating (batch of) square matrix (..., n, n)."""
    x = as_float_array(x, name, allow_complex=False)
    check_square(x, name)
    return x


def check_vector(x: jax.Array, name: str, size: int | None = None) -> None:
    """`x` must be 1-D (of length `size` when given)."""
    check_ndim(x, name, ndim=1)
    if size is not None and x.shape[0] != size:
        raise ValueError(
            f"`{name}` must have length {size}; got shape {tuple(x.shape)}."
        )


def check_same_leading(a: jax.Array, a_name: str, b: jax.Array, b_name: str,
                       axis_a: int = -2, axis_b: int = -2) -> None:
    """`a.shape[axis_a]` must equal `b.shape[axis_b]` (e.g. rows of A and b)."""
    if a.shape[axis_a] != b.shape[axis_b]:
        raise ValueError(
            f"`{b_name}` has shape {tuple(b.shape)}, incompatible with "
            f"`{a_name}` of shape {tuple(a.shape)}."
        )


def check_positive_int(value: Any, name: str, *, allow_zero: bool = False) -> int:
    """`value` must be a static Python int > 0 (>= 0 with `allow_zero`)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"`{name}` must be a static Python int; got {type(value).__name__}."
        )
    lo = 0 if allow_zero else 1
    if value < lo:
        raise ValueError(f"`{name}` must be >= {lo}; got {value}.")
    return int(value)


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """`value` must be one of the strings in `choices` (always `ValueError`)."""
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}; got {value!r}.")
    return value


def check_key(key: Any, name: str = "key") -> jax.Array:
    """`key` must be a `jax.random` key (typed or raw uint32[2])."""
    if isinstance(key, jax.Array):
        if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
            return key
        if key.dtype == jnp.uint32 and key.shape[-1:] == (2,):
            return key
    raise TypeError(
        f"`{name}` must be a jax.random key (jax.random.key(seed)); got "
        f"{type(key).__name__} {getattr(key, 'dtype', '')}."
    )


def is_operator(A: Any) -> bool:
    """True when `A` is a linear callable (`matvec`) rather than an array."""
    return callable(A) and not isinstance(A, (jax.Array, np.ndarray))


def as_operator(A: Any, name: str = "A") -> tuple[Callable[[jax.Array], jax.Array], Any]:
    """Return `(matvec, dense_or_None)` for a dense matrix or a linear callable."""
    if is_operator(A):
        return A, None
    arr = as_float_array(A, name)
    check_square(arr, name)
    return (lambda v: arr @ v), arr
