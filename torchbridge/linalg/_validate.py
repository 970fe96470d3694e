"""Shared input checks for the PyTorch twins (the torch side of `jaxla._validate`).

Messages name the argument in backticks and say what was expected and what
was given, word for word like the JAX side, so one `match=` fits both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

_INTEGER_DTYPES = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def as_float(x: Any, name: str, *, allow_complex: bool = True) -> torch.Tensor:
    """`x` as a floating (or complex) tensor; bool/int tensors are promoted to the default dtype."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor; got {type(x).__name__}.")
    if x.is_complex():
        if not allow_complex:
            raise TypeError(f"`{name}` must be real; got dtype {x.dtype}.")
        return x
    if x.is_floating_point():
        return x
    if x.dtype in _INTEGER_DTYPES:
        return x.to(torch.get_default_dtype())
    raise TypeError(f"`{name}` must have a floating or complex dtype; got {x.dtype}.")


def as_real(x: Any, name: str) -> torch.Tensor:
    """`as_float` that rejects complex input."""
    return as_float(x, name, allow_complex=False)


def check_matrix(x: torch.Tensor, name: str) -> torch.Tensor:
    """`x` must have shape (..., m, n)."""
    if x.ndim < 2:
        raise ValueError(
            f"`{name}` must have at least 2 dimension(s); got shape {tuple(x.shape)}."
        )
    return x


def check_square(x: torch.Tensor, name: str) -> torch.Tensor:
    """`x` must have shape (..., n, n)."""
    check_matrix(x, name)
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"`{name}` must be square (..., n, n); got shape {tuple(x.shape)}.")
    return x


def check_positive_int(value: Any, name: str, *, allow_zero: bool = False) -> int:
    """`value` must be a Python int > 0 (>= 0 with `allow_zero`)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` must be a static Python int; got {type(value).__name__}.")
    lo = 0 if allow_zero else 1
    if value < lo:
        raise ValueError(f"`{name}` must be >= {lo}; got {value}.")
    return value


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """`value` must be one of `choices` (always `ValueError`)."""
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}; got {value!r}.")
    return value


def per_matrix(fn: Callable[..., Any], A: torch.Tensor, *rest: torch.Tensor) -> Any:
    """Apply `fn(A_i, *rest_i)` to every matrix of a (..., m, n) batch and stack the results.

    `rest` tensors share A's batch dimensions. `fn` may return a tensor or a
    tuple of tensors; an unbatched `A` calls `fn` once.
    """
    if A.ndim == 2:
        return fn(A, *rest)
    batch = A.shape[:-2]
    flat = A.reshape(-1, *A.shape[-2:])
    flat_rest = [r.reshape(-1, *r.shape[len(batch):]) for r in rest]
    outs = [fn(flat[i], *(r[i] for r in flat_rest)) for i in range(flat.shape[0])]
    if not outs:
        raise ValueError(f"`A` has an empty batch {tuple(batch)}; nothing to compute.")
    if isinstance(outs[0], tuple):
        stacked = [torch.stack(parts).reshape(*batch, *parts[0].shape) for parts in zip(*outs)]
        return type(outs[0])(*stacked) if hasattr(outs[0], "_fields") else tuple(stacked)
    return torch.stack(outs).reshape(*batch, *outs[0].shape)


def check_ndim(x: torch.Tensor, name: str, *, min_ndim: int | None = None,
               ndim: int | None = None) -> torch.Tensor:
    """`x.ndim` must equal `ndim` / be at least `min_ndim` (`ValueError`)."""
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"`{name}` must have {ndim} dimension(s); got shape {tuple(x.shape)}.")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(
            f"`{name}` must have at least {min_ndim} dimension(s); got shape {tuple(x.shape)}."
        )
    return x


def check_vector(x: torch.Tensor, name: str, size: int | None = None) -> torch.Tensor:
    """`x` must be 1-D (of length `size` when given)."""
    check_ndim(x, name, ndim=1)
    if size is not None and x.shape[0] != size:
        raise ValueError(f"`{name}` must have length {size}; got shape {tuple(x.shape)}.")
    return x


def check_callable(fn: Any, name: str) -> Any:
    """`fn` must be callable (`TypeError`)."""
    if not callable(fn):
        raise TypeError(f"`{name}` must be callable; got {type(fn).__name__}.")
    return fn
