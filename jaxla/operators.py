"""Linear operators: the matrix-free side of the eigen-solvers and solvers.

An operator is any linear callable `matvec(v) -> A v` on 1-D vectors. To carry
arrays through `jax.jit` as an argument, build it as `jax.tree_util.Partial`
(its bound arrays are pytree leaves, so they are traced, not baked in as
constants). This module builds the operators ML code needs most:

- `hvp(f, params)`: the Hessian of a scalar loss as an operator, by
  forward-over-reverse differentiation (Pearlmutter 1994), never forming the
  Hessian.

Reference: B. A. Pearlmutter, "Fast exact multiplication by the Hessian",
Neural Computation 6(1), 1994.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
from jax.flatten_util import ravel_pytree


def hvp(f: Callable[[Any], jax.Array], params: Any) -> jax.tree_util.Partial:
    """Hessian-vector-product operator of a scalar function at `params`.

    `H v = d/dt ∇f(params + t v)|_{t=0}`, computed as a JVP of `jax.grad(f)`
    (forward-over-reverse): one product costs about two gradient evaluations
    and O(P) memory, where P is the number of parameters.

    Vector layout: `params` may be any pytree of arrays. The operator acts on
    *flat* vectors of shape `(P,)` in the order of
    `jax.flatten_util.ravel_pytree(params)`; use the `unravel` function that
    `ravel_pytree` returns to map an eigenvector back to the pytree. The
    vector dtype is the promoted dtype of the leaves.

    Args:
      f: scalar function of the pytree `params` (e.g. a loss with the data
        closed over).
      params: the point at which the Hessian is taken.

    Returns:
      A `jax.tree_util.Partial` `matvec(v)` with the flattened parameters as
      its (traced) argument, so it can be passed into jitted eigen-solvers
      such as `jaxla.lanczos_eigsh` and `jaxla.power_iteration`.
    """
    flat, unravel = ravel_pytree(params)

    def flat_f(x: jax.Array) -> jax.Array:
        return f(unravel(x))

    def matvec(x: jax.Array, v: jax.Array) -> jax.Array:
        return jax.jvp(jax.grad(flat_f), (x,), (v.astype(x.dtype),))[1]

    return jax.tree_util.Partial(matvec, flat)
