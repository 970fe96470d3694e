"""PyTorch twins of `jaxla.basics`: norms, normalization, cosine similarity, trace."""

from __future__ import annotations

import math

import torch


def _as_float(x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor; got {type(x).__name__}.")
    if x.is_floating_point() or x.is_complex():
        return x
    if x.dtype in (torch.bool, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        return x.to(torch.get_default_dtype())
    raise TypeError(f"`{name}` must have a floating or complex dtype; got {x.dtype}.")


def vector_norm(x: torch.Tensor, ord: float = 2, dim: int = -1) -> torch.Tensor:
    """L1, L2 or L-infinity norm along `dim` (overflow-safe L2)."""
    x = _as_float(x, "x")
    if x.ndim < 1:
        raise ValueError(f"`x` must have at least 1 dimension(s); got shape {tuple(x.shape)}.")
    if ord not in (1, 2, math.inf):
        raise ValueError(f"`ord` must be one of 1, 2, inf; got {ord!r}.")
    mag = x.abs()
    if ord == 1:
        return mag.sum(dim)
    if x.shape[dim] == 0:
        return mag.sum(dim)
    biggest = mag.amax(dim, keepdim=True)
    if ord == math.inf:
        return biggest.squeeze(dim)
    divisor = torch.where(biggest > 0, biggest, torch.ones_like(biggest))
    return divisor.squeeze(dim) * (mag / divisor).square().sum(dim).sqrt()


def matrix_norm(A: torch.Tensor, ord: str | float = "fro") -> torch.Tensor:
    """Frobenius, 1 (max column sum) or inf (max row sum) norm of (..., m, n)."""
    A = _as_float(A, "A")
    if A.ndim < 2:
        raise ValueError(f"`A` must have at least 2 dimension(s); got shape {tuple(A.shape)}.")
    if ord == "fro":
        return vector_norm(A.flatten(-2), 2)
    if ord == 1:
        return A.abs().sum(-2).amax(-1) if A.shape[-1] else A.abs().sum((-2, -1))
    if ord == math.inf:
        return A.abs().sum(-1).amax(-1) if A.shape[-2] else A.abs().sum((-2, -1))
    raise ValueError(f"`ord` must be one of 'fro', 1, inf; got {ord!r}.")


def normalize(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """x / ||x||₂ along `dim`; zero vectors stay zero."""
    x = _as_float(x, "x")
    length = vector_norm(x, 2, dim).unsqueeze(dim)
    safe = torch.where(length > 0, length, torch.ones_like(length))
    return torch.where(length > 0, x / safe, torch.zeros_like(x))


def cosine_similarity(x: torch.Tensor, y: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """<x, y> / (||x|| ||y||) along `dim`; 0 when either vector is zero."""
    x, y = _as_float(x, "x"), _as_float(y, "y")
    if x.shape != y.shape:
        raise ValueError(
            f"`x` and `y` must have the same shape; got {tuple(x.shape)} and {tuple(y.shape)}."
        )
    return (normalize(x, dim) * normalize(y, dim)).sum(dim)


def trace(A: torch.Tensor) -> torch.Tensor:
    """Sum of the diagonal of a (batch of) square matrix."""
    A = _as_float(A, "A")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"`A` must be square (..., n, n); got shape {tuple(A.shape)}.")
    return A.diagonal(dim1=-2, dim2=-1).sum(-1)
