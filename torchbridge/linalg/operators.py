"""PyTorch twin of `jaxla.operators`: the Hessian-vector-product operator.

Independent of the JAX code: double backward through torch.autograd
(reverse-over-reverse; Pearlmutter 1994), with the same flat-vector layout as
`jaxla.hvp`, so operators from the two frameworks are interchangeable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import torch


def hvp(f: Callable[[Any], torch.Tensor], params: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """Hessian-vector-product operator of a scalar function at `params`.

    `H v = ∇_x <∇f(x), v>` at x = params, by double backward: one product costs
    about two gradient evaluations and never forms H.

    Vector layout: `params` is a pytree (dict/list/tuple) of tensors; the
    operator acts on flat vectors of length P = total number of parameters,
    leaves concatenated in `jax.tree_util` flattening order (dict keys
    sorted), exactly like `jaxla.hvp` / `jax.flatten_util.ravel_pytree`.

    Args:
      f: scalar function of the pytree `params`.
      params: the point at which the Hessian is taken.

    Returns:
      `matvec(v)` for v of shape (P,).
    """
    leaves, treedef = jax.tree_util.tree_flatten(params)
    if not leaves or not all(isinstance(p, torch.Tensor) for p in leaves):
        raise TypeError("`params` must be a non-empty pytree of torch.Tensor leaves.")
    if not all(p.is_floating_point() for p in leaves):
        raise TypeError("`params` must have floating-point leaves.")
    dtype = leaves[0].dtype
    for p in leaves[1:]:
        dtype = torch.promote_types(dtype, p.dtype)
    point = [p.detach().to(dtype) for p in leaves]
    sizes = [p.numel() for p in point]
    total = sum(sizes)

    def matvec(v: torch.Tensor) -> torch.Tensor:
        if not isinstance(v, torch.Tensor) or tuple(v.shape) != (total,):
            got = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
            raise ValueError(f"`v` must have shape ({total},); got {got}.")
        x = [p.clone().requires_grad_(True) for p in point]
        with torch.enable_grad():
            loss = f(jax.tree_util.tree_unflatten(treedef, x))
            grads = torch.autograd.grad(loss, x, create_graph=True)
            pieces = torch.split(v.to(dtype), sizes)
            inner = sum((g * u.reshape(g.shape)).sum() for g, u in zip(grads, pieces))
            hv = torch.autograd.grad(inner, x, allow_unused=True)
        return torch.cat([
            (h if h is not None else torch.zeros_like(p)).reshape(-1) for h, p in zip(hv, x)
        ])

    return matvec
