"""torchbridge: JAX <-> PyTorch interop, PyTorch twins of `jaxla`, and cross-checks.

- `to_torch` / `to_jax` (and the pytree versions): zero-copy through DLPack.
- `jax_to_torch` / `torch_to_jax`: call across frameworks with autograd.
- `torchbridge.linalg`: independent PyTorch implementations of `jaxla`.
- `torchbridge.testing`: tolerances and comparators.
- `python -m torchbridge.crosscheck`: the cross-check report.
"""

from torchbridge.dlpack import check_unmodified, to_jax, to_torch, tree_to_jax, tree_to_torch
from torchbridge.wrap import jax_to_torch, torch_to_jax

__all__ = [
    "check_unmodified",
    "jax_to_torch",
    "to_jax",
    "to_torch",
    "torch_to_jax",
    "tree_to_jax",
    "tree_to_torch",
]
