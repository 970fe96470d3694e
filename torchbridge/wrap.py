"""Call JAX functions from PyTorch and torch functions from JAX, with gradients.

`jax_to_torch(fn)` turns a JAX function into a torch-callable one: inputs and
outputs are pytrees of tensors, the JAX side is jit-compiled once per input
signature, and `torch.autograd` differentiates through it with `jax.vjp`
(forward and backward are both compiled; residuals stay on the device).

`torch_to_jax(fn, out_shapes=...)` turns a torch function into a JAX-callable
one that works under `jit`, `vmap` (sequentially) and `grad`: the forward is a
`jax.pure_callback` that hands buffers to torch through DLPack, the backward a
second callback that runs `torch.autograd.grad`. Callbacks run on the host, so
JAX GPU arrays make a round trip through host memory; pass `device="cuda"` to
run the torch function on a GPU inside the callback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import torch

from jaxla._compat import enable_x64
from torchbridge.dlpack import to_jax, to_torch


def _is_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor)


def _is_inexact(dtype: Any) -> bool:
    return jnp.issubdtype(dtype, jnp.inexact)


# ------------------------------------------------------------------ JAX -> torch
class _Compiled:
    """The jitted forward and forward-with-vjp of one wrapped call structure."""

    def __init__(self, fn: Callable, treedef: Any, is_tensor: tuple[bool, ...],
                 static: tuple, jit: bool):
        def flat_fn(*arrays: jax.Array) -> Any:
            it = iter(arrays)
            leaves = [next(it) if t else s for t, s in zip(is_tensor, static)]
            args, kwargs = jax.tree_util.tree_unflatten(treedef, leaves)
            return fn(*args, **kwargs)

        maybe_jit = jax.jit if jit else (lambda f: f)
        self.call = maybe_jit(flat_fn)
        self.call_vjp = maybe_jit(lambda *a: jax.vjp(flat_fn, *a))


@functools.partial(jax.jit, static_argnums=(1, 2))
def _apply_vjp(vjp: Any, out_tree: Any, int_shapes: tuple, float_cts: list) -> list:
    """Run `vjp` on cotangents; integer outputs get float0 zeros, integer inputs None."""
    it = iter(float_cts)
    cts = [np.zeros(shape, jax.dtypes.float0) if shape is not None else next(it)
           for shape in int_shapes]
    grads = vjp(jax.tree_util.tree_unflatten(out_tree, cts))
    return [None if g.dtype == jax.dtypes.float0 else g for g in grads]


class _JaxFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, compiled: _Compiled, *tensors: torch.Tensor):
        arrays = [to_jax(t) for t in tensors]
        ctx.x64 = bool(jax.config.jax_enable_x64)
        if any(ctx.needs_input_grad[1:]):
            out, ctx.vjp = compiled.call_vjp(*arrays)
        else:
            out = compiled.call(*arrays)
        leaves, ctx.out_tree = jax.tree_util.tree_flatten(out)
        ctx.int_shapes = tuple(None if _is_inexact(x.dtype) else tuple(x.shape)
                               for x in leaves)
        outs = tuple(to_torch(x) for x in leaves)
        ctx.mark_non_differentiable(*[o for o, s in zip(outs, ctx.int_shapes) if s is not None])
        compiled.out_tree = ctx.out_tree
        return outs

    @staticmethod
    def backward(ctx, *grads: torch.Tensor):
        with enable_x64(ctx.x64):
            float_cts = [to_jax(g.contiguous()) for g, s in zip(grads, ctx.int_shapes)
                         if s is None]
            in_grads = _apply_vjp(ctx.vjp, ctx.out_tree, ctx.int_shapes, float_cts)
        result = [None if g is None or not need else to_torch(g)
                  for g, need in zip(in_grads, ctx.needs_input_grad[1:])]
        return (None, *result)


def jax_to_torch(fn: Callable, *, jit: bool = True) -> Callable:
    """Wrap a JAX function so that it takes and returns torch tensors.

    Args:
      fn: a JAX function of pytrees of arrays. Tensor leaves of the arguments
        become JAX arrays (zero-copy); other leaves (Python numbers, strings,
        None) are treated as static and must be hashable.
      jit: compile `fn` (once per input signature), as `jax.jit` would.

    Returns:
      A function of the same argument structure returning the outputs as
      tensors (zero-copy views of the JAX results). Gradients flow to every
      floating input tensor that requires grad, through `jax.vjp`.

    Example:
      >>> f = jax_to_torch(lambda x, y: {"s": jnp.sin(x) * y})
      >>> f(torch.ones(3, requires_grad=True), torch.ones(3))["s"].sum().backward()
    """
    cache: dict[Any, _Compiled] = {}

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        leaves, treedef = jax.tree_util.tree_flatten((args, kwargs), is_leaf=_is_tensor)
        is_tensor = tuple(_is_tensor(x) for x in leaves)
        static = tuple(None if t else x for x, t in zip(leaves, is_tensor))
        key = (treedef, is_tensor, static)
        try:
            compiled = cache.get(key)
        except TypeError as err:
            raise TypeError(
                "jax_to_torch: non-tensor arguments are static and must be hashable; "
                f"got {[type(s).__name__ for s in static if s is not None]}. Pass arrays "
                "as torch tensors."
            ) from err
        if compiled is None:
            compiled = cache[key] = _Compiled(fn, treedef, is_tensor, static, jit)
        tensors = [x for x, t in zip(leaves, is_tensor) if t]
        outs = _JaxFunction.apply(compiled, *tensors)
        return jax.tree_util.tree_unflatten(compiled.out_tree, list(outs))

    return wrapper


# ------------------------------------------------------------------ torch -> JAX
def _to_host(t: torch.Tensor) -> np.ndarray:
    """A torch result as a NumPy array for `pure_callback` (bfloat16 kept)."""
    t = t.detach().resolve_conj().resolve_neg().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(jnp.bfloat16)
    return t.numpy()


def _check_outputs(outs: Any, shapes: Any) -> list[torch.Tensor]:
    out_leaves, out_tree = jax.tree_util.tree_flatten(outs, is_leaf=_is_tensor)
    shape_leaves, shape_tree = jax.tree_util.tree_flatten(shapes)
    if out_tree != shape_tree:
        raise ValueError(
            f"torch_to_jax: the torch function returned structure {out_tree}, but "
            f"`out_shapes` declares {shape_tree}."
        )
    for i, (o, s) in enumerate(zip(out_leaves, shape_leaves)):
        if not _is_tensor(o) or tuple(o.shape) != tuple(s.shape) or \
                str(o.dtype).replace("torch.", "") != jnp.dtype(s.dtype).name:
            got = (tuple(o.shape), o.dtype) if _is_tensor(o) else type(o).__name__
            raise ValueError(
                f"torch_to_jax: output {i} is {got}, but `out_shapes` declares "
                f"{(tuple(s.shape), jnp.dtype(s.dtype).name)}."
            )
    return out_leaves


def _host_tensor(a: Any) -> torch.Tensor:
    """A callback argument (a JAX array; NumPy in older JAX) as a tensor, via DLPack."""
    return to_torch(a if isinstance(a, jax.Array) else jnp.asarray(a))


def _as_tensors(arrays: tuple, device: str | None) -> list[torch.Tensor]:
    tensors = [_host_tensor(a) for a in arrays]
    return [t.to(device) for t in tensors] if device else tensors


def torch_to_jax(fn: Callable, *, out_shapes: Any, device: str | None = None,
                 vmap_method: str = "sequential") -> Callable:
    """Wrap a torch function so that JAX can call, jit, vmap and differentiate it.

    Args:
      fn: a torch function of positional tensors returning a pytree of tensors.
      out_shapes: pytree of `jax.ShapeDtypeStruct` describing the outputs, or a
        callable mapping the inputs' `ShapeDtypeStruct`s to it.
      device: torch device to run `fn` on inside the callback (default CPU).
      vmap_method: how `jax.vmap` calls `fn` (see `jax.pure_callback`):
        "sequential" (one call per batch element, always correct) or
        "broadcast_all" / "expand_dims" when `fn` handles a leading batch axis.

    Returns:
      A JAX function with a `custom_vjp`: reverse-mode gradients come from
      `torch.autograd` (first order only).
    """

    def shapes_for(args: tuple) -> Any:
        if callable(out_shapes):
            return out_shapes(*[jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a))
                                for a in args])
        return out_shapes

    def forward_host(*arrays: Any) -> list[np.ndarray]:
        with torch.no_grad():
            outs = fn(*_as_tensors(arrays, device))
        return [_to_host(o) for o in _check_outputs(outs, shapes_for(arrays))]

    def backward_host(n_args: int, *arrays: Any) -> list[np.ndarray]:
        args, cts = arrays[:n_args], arrays[n_args:]
        inputs = _as_tensors(args, device)
        wants = [t.is_floating_point() or t.is_complex() for t in inputs]
        inputs = [t.detach().clone().requires_grad_(w) for t, w in zip(inputs, wants)]
        with torch.enable_grad():
            outs = _check_outputs(fn(*inputs), shapes_for(args))
        pairs = [(o, c) for o, c in zip(outs, cts) if o.requires_grad]
        diff_in = [t for t, w in zip(inputs, wants) if w]
        grads = torch.autograd.grad(
            [o for o, _ in pairs], diff_in,
            grad_outputs=[_host_tensor(c).to(o.device) for o, c in pairs],
            allow_unused=True,
        ) if pairs and diff_in else [None] * len(diff_in)
        return [_to_host(g if g is not None else torch.zeros_like(t))
                for g, t in zip(grads, diff_in)]

    def call(*args: Any) -> Any:
        shapes = shapes_for(args)
        flat_shapes, tree = jax.tree_util.tree_flatten(shapes)
        flat = jax.pure_callback(forward_host, flat_shapes, *args, vmap_method=vmap_method)
        return jax.tree_util.tree_unflatten(tree, flat)

    @jax.custom_vjp
    def wrapped(*args: Any) -> Any:
        return call(*args)

    def fwd(*args: Any) -> tuple[Any, tuple]:
        return call(*args), args

    def bwd(args: tuple, cts: Any) -> tuple:
        cts_flat = jax.tree_util.tree_leaves(cts)
        diff = [_is_inexact(jnp.result_type(a)) for a in args]
        grad_shapes = [jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a))
                       for a, d in zip(args, diff) if d]
        grads = iter(jax.pure_callback(
            functools.partial(backward_host, len(args)), grad_shapes, *args, *cts_flat,
            vmap_method=vmap_method,
        ))
        return tuple(next(grads) if d else None for d in diff)

    wrapped.defvjp(fwd, bwd)
    return functools.wraps(fn)(wrapped)
