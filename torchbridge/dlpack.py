"""Zero-copy conversion between JAX arrays and torch tensors through DLPack.

`to_torch(x)` and `to_jax(t)` share the underlying buffer whenever the layout
allows; the table says exactly when a copy happens instead.

| input                                        | result                              |
|----------------------------------------------|-------------------------------------|
| contiguous tensor / any committed JAX array  | zero-copy view (same data pointer)  |
| non-contiguous torch tensor (slice, `.T`,    | copied to a contiguous tensor first |
|   `expand`), or misaligned storage offset    |   (values are always right)         |
| torch tensor with `requires_grad=True`       | detached (zero-copy); gradients do  |
|                                              |   not flow: use `jax_to_torch`      |
| torch tensor with the conjugate/negative bit | conjugation materialized (a copy)   |
| float64/int64/uint64/complex128 tensor while | `TypeError`: JAX would silently     |
|   JAX x64 is off                             |   downcast to 32 bits               |
| traced JAX value (inside jit/vmap/grad)      | `TypeError`                         |
| array sharded over several devices           | `ValueError`                        |
| `copy=True`                                  | an independent copy                 |

Aliasing hazard: a zero-copy tensor from `to_torch` views a JAX buffer, and JAX
assumes its arrays are immutable. Mutating that tensor in place (`t.add_(1)`,
`t[0] = 0`, an optimizer step) silently changes the JAX array and any value XLA
derived from it. Use `copy=True` when the tensor will be mutated. As a guard,
`to_torch` records the tensor's version counter; `check_unmodified(t)` raises
if an in-place operation touched it since.

Streams (CUDA): both directions use the DLPack stream protocol: the consumer
passes its current stream, and the producer makes that stream wait for pending
work on the buffer, so no explicit synchronization is needed.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import torch

_WIDE_DTYPES = {
    torch.float64: "float32",
    torch.int64: "int32",
    torch.complex128: "complex64",
}
if hasattr(torch, "uint64"):
    _WIDE_DTYPES[torch.uint64] = "uint32"

_SUPPORTED_TORCH = {
    torch.float16, torch.bfloat16, torch.float32, torch.float64,
    torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool,
    torch.complex64, torch.complex128,
}
for _name in ("uint16", "uint32", "uint64"):
    if hasattr(torch, _name):
        _SUPPORTED_TORCH.add(getattr(torch, _name))

# Attribute holding the version counter of a tensor made by to_torch (the guard).
_ISSUED_VERSION = "_torchbridge_version"


def _is_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor)


def to_torch(x: Any, *, copy: bool = False) -> torch.Tensor:
    """Convert a JAX (or NumPy) array to a torch tensor, sharing memory.

    Args:
      x: a concrete `jax.Array` (or `np.ndarray`) on a single device.
      copy: return an independent copy instead of a view of `x`'s buffer.

    Returns:
      A tensor with the same shape, dtype and device. Without `copy`, it aliases
      `x`: do not mutate it in place (see the module docstring).

    Raises:
      TypeError: `x` is a traced value (inside `jit`/`vmap`/`grad`) or not an array.
      ValueError: `x` is sharded over several devices.
    """
    if isinstance(x, jax.core.Tracer):
        raise TypeError(
            "to_torch: `x` is a traced JAX value (inside jit, vmap or grad), which has "
            "no buffer to share. Convert concrete arrays outside the transformation, "
            "or call torch from traced code with torchbridge.torch_to_jax."
        )
    if isinstance(x, np.ndarray):
        a = np.ascontiguousarray(x)
        if copy or not a.flags.writeable:  # torch cannot view read-only memory
            a = a.copy()
        return torch.from_numpy(a)
    if not isinstance(x, jax.Array):
        raise TypeError(f"to_torch: `x` must be a jax.Array or np.ndarray; got {type(x).__name__}.")
    if len(x.sharding.device_set) > 1:
        raise ValueError(
            f"to_torch: `x` is sharded over {len(x.sharding.device_set)} devices; DLPack "
            "shares one buffer. Gather it first (jax.device_put(x, device))."
        )
    t = torch.from_dlpack(x)
    if copy:
        return t.clone()
    setattr(t, _ISSUED_VERSION, t._version)
    return t


def check_unmodified(t: torch.Tensor) -> None:
    """Raise `RuntimeError` if `t` (from `to_torch`) was mutated in place since.

    Useful in tests and debugging to catch the aliasing hazard: an in-place
    change of a tensor that views a JAX buffer corrupts the JAX array.
    """
    version = getattr(t, _ISSUED_VERSION, None)
    if version is None:
        raise ValueError("check_unmodified: `t` was not produced by to_torch (without copy).")
    if t._version != version:
        raise RuntimeError(
            "check_unmodified: the tensor from to_torch was modified in place; it shares "
            "memory with a JAX array, which is now corrupted. Use to_torch(x, copy=True) "
            "for tensors you mutate."
        )


def _canonical_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, acc = [], 1
    for size in reversed(shape):
        strides.append(acc)
        acc *= max(size, 1)
    return tuple(reversed(strides))


def to_jax(t: Any, *, copy: bool = False) -> jax.Array:
    """Convert a torch tensor to a JAX array, sharing memory when possible.

    Args:
      t: a torch tensor (CPU or CUDA) of a supported dtype: float16, bfloat16,
        float32, float64, int8-int64, uint8, bool, complex64, complex128.
      copy: return an independent copy.

    Returns:
      A `jax.Array` on the matching JAX device. See the module docstring for
      when a copy is made instead of a view (non-contiguous input, conjugate
      bit, misaligned storage).

    Raises:
      TypeError: `t` is not a tensor, has an unsupported dtype, or is 64-bit
        while JAX's x64 mode is off (which would silently downcast it).
    """
    if not _is_tensor(t):
        raise TypeError(f"to_jax: `t` must be a torch.Tensor; got {type(t).__name__}.")
    if t.dtype not in _SUPPORTED_TORCH:
        raise TypeError(f"to_jax: `t` has unsupported dtype {t.dtype}.")
    if t.dtype in _WIDE_DTYPES and not jax.config.jax_enable_x64:
        raise TypeError(
            f"to_jax: `t` has dtype {t.dtype} but JAX's 64-bit mode is off, so JAX would "
            f"silently downcast it to {_WIDE_DTYPES[t.dtype]}. Enable x64 "
            "(jax.config.update('jax_enable_x64', True) or `with jax.enable_x64():`) "
            "or cast the tensor explicitly first."
        )
    t = t.detach()
    if t.is_conj():
        t = t.resolve_conj()
    if t.is_neg():
        t = t.resolve_neg()
    if not t.is_contiguous():
        # JAX's from_dlpack rejects (or, in some versions, misreads) general strides.
        t = t.contiguous()
    elif t.numel() > 0 and t.stride() != _canonical_strides(tuple(t.shape)):
        # Contiguous, but size-1 dimensions carry arbitrary strides; normalize
        # them (still zero-copy: the strides of size-1 dimensions are never used).
        t = t.as_strided(t.shape, _canonical_strides(tuple(t.shape)), t.storage_offset())
    elif t.numel() == 0:
        t = torch.empty(t.shape, dtype=t.dtype, device=t.device)
    x = jax.dlpack.from_dlpack(t)
    return jnp.array(x, copy=True) if copy else x


def _tensor_leaf(x: Any) -> bool:
    return _is_tensor(x)


def tree_to_torch(tree: Any, *, copy: bool = False) -> Any:
    """`to_torch` on every array leaf of a pytree; other leaves are kept."""
    return jax.tree_util.tree_map(
        lambda x: to_torch(x, copy=copy) if isinstance(x, (jax.Array, np.ndarray)) else x,
        tree,
    )


def tree_to_jax(tree: Any, *, copy: bool = False) -> Any:
    """`to_jax` on every tensor leaf of a pytree; other leaves are kept."""
    return jax.tree_util.tree_map(
        lambda x: to_jax(x, copy=copy) if _is_tensor(x) else x, tree, is_leaf=_tensor_leaf
    )
