"""PyTorch twins of `jaxla.basics`: norms, normalization, cosine similarity, trace."""

from __future__ import annotations

import math

import torch

from torchbridge.linalg import _validate

# eigen.py and qr_algorithm.py import this name from here.
_as_float = _validate.as_float


def vector_norm(x: torch.Tensor, ord: float = 2, dim: int = -1) -> torch.Tensor:
    """L1, L2 or L-infinity norm along `dim` (overflow-safe L2)."""
    x = _validate.check_ndim(_validate.as_float(x, "x"), "x", min_ndim=1)
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
    A = _validate.check_matrix(_validate.as_float(A, "A"), "A")
    if ord == "fro":
        return vector_norm(A.flatten(-2), 2)
    if ord == 1:
        return A.abs().sum(-2).amax(-1) if A.shape[-1] else A.abs().sum((-2, -1))
    if ord == math.inf:
        return A.abs().sum(-1).amax(-1) if A.shape[-2] else A.abs().sum((-2, -1))
    raise ValueError(f"`ord` must be one of 'fro', 1, inf; got {ord!r}.")


def normalize(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """x / ||x||₂ along `dim`; zero vectors stay zero."""
    x = _validate.as_float(x, "x")
    length = vector_norm(x, 2, dim).unsqueeze(dim)
    safe = torch.where(length > 0, length, torch.ones_like(length))
    return torch.where(length > 0, x / safe, torch.zeros_like(x))


def cosine_similarity(x: torch.Tensor, y: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """<x, y> / (||x|| ||y||) along `dim`; 0 when either vector is zero."""
    x, y = _validate.as_float(x, "x"), _validate.as_float(y, "y")
    if x.shape != y.shape:
        raise ValueError(
            f"`x` and `y` must have the same shape; got {tuple(x.shape)} and {tuple(y.shape)}."
        )
    return (normalize(x, dim) * normalize(y, dim)).sum(dim)


def trace(A: torch.Tensor) -> torch.Tensor:
    """Sum of the diagonal of a (batch of) square matrix."""
    A = _validate.check_square(_validate.as_float(A, "A"), "A")
    return A.diagonal(dim1=-2, dim2=-1).sum(-1)
