"""PyTorch twins of `jaxla.stochastic`: minibatch indices, SGD and Adam on least squares.

Plain tensor loops with `torch.optim.SGD` / `torch.optim.Adam` semantics (Adam
puts ε outside the square root), so autograd can differentiate a trajectory
with respect to a `step_size` tensor. Minibatches are epoch-wise permutations
from `torch.randperm` with `generator=`; pass `batches=` to replay indices
drawn by `jaxla.minibatch_indices` and get the same trajectory as JAX. The
deterministic methods and `OptimTrace` live in `torchbridge.linalg.optim`.

References: Robbins & Monro (1951); Kingma & Ba (2015), Algorithm 1.
"""

from __future__ import annotations

from typing import Any

import torch

from torchbridge.linalg import _validate
from torchbridge.linalg.optim import OptimTrace, _check_least_squares


def minibatch_indices(num_examples: int, *, batch_size: int, num_steps: int,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """(num_steps, batch_size) row indices: one `randperm` per epoch, drop_last."""
    n = _validate.check_positive_int(num_examples, "num_examples")
    size = _validate.check_positive_int(batch_size, "batch_size")
    steps = _validate.check_positive_int(num_steps, "num_steps")
    if size > n:
        raise ValueError(f"`batch_size` must be <= num_examples = {n}; got {size}.")
    batches: list[torch.Tensor] = []
    while len(batches) < steps:
        perm = torch.randperm(n, generator=generator)
        batches.extend(perm[: (n // size) * size].view(-1, size))
    return torch.stack(batches[:steps])


def _batches(X, y, w0, batch_size, num_steps, batches, generator):
    X, y = _check_least_squares(X, y)
    w0 = _validate.check_vector(_validate.as_real(w0, "w0"), "w0", X.shape[1])
    if batches is None:
        if batch_size is None or num_steps is None:
            raise ValueError("`batch_size` and `num_steps` are required when `batches` "
                             "is not given.")
        batches = minibatch_indices(X.shape[0], batch_size=batch_size, num_steps=num_steps,
                                    generator=generator)
    else:
        if not isinstance(batches, torch.Tensor) or batches.is_floating_point():
            raise TypeError("`batches` must be an integer torch.Tensor.")
        _validate.check_ndim(batches, "batches", ndim=2)
        for name, value, axis in (("num_steps", num_steps, 0), ("batch_size", batch_size, 1)):
            if value is not None and value != batches.shape[axis]:
                raise ValueError(f"`{name}`={value} disagrees with `batches` of shape "
                                 f"{tuple(batches.shape)}.")
    return X, y, w0, batches.long()


def _minibatch(X, y, w, idx):
    rows, targets = X[idx], y[idx]
    r = rows @ w - targets
    return r.square().mean(), (2.0 / idx.shape[0]) * (rows.T @ r)


def sgd(X: torch.Tensor, y: torch.Tensor, w0: torch.Tensor, *, step_size: Any,
        batch_size: int | None = None, num_steps: int | None = None, momentum: Any = 0.0,
        batches: torch.Tensor | None = None,
        generator: torch.Generator | None = None) -> OptimTrace:
    """Minibatch SGD with momentum on (1/n)‖Xw − y‖², as `torch.optim.SGD`."""
    X, y, w, batches = _batches(X, y, w0, batch_size, num_steps, batches, generator)
    buf = torch.zeros_like(w)
    losses, norms = [], []
    for idx in batches:
        loss, g = _minibatch(X, y, w, idx)
        losses.append(loss)
        norms.append(torch.linalg.vector_norm(g))
        buf = momentum * buf + g
        w = w - step_size * buf
    return OptimTrace(w, torch.stack(losses), torch.stack(norms))


def adam(X: torch.Tensor, y: torch.Tensor, w0: torch.Tensor, *, step_size: Any = 1e-3,
         b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
         batch_size: int | None = None, num_steps: int | None = None,
         batches: torch.Tensor | None = None,
         generator: torch.Generator | None = None) -> OptimTrace:
    """Adam with bias correction on minibatches of (1/n)‖Xw − y‖², as `torch.optim.Adam`."""
    X, y, w, batches = _batches(X, y, w0, batch_size, num_steps, batches, generator)
    first, second = torch.zeros_like(w), torch.zeros_like(w)
    losses, norms = [], []
    for t, idx in enumerate(batches, start=1):
        loss, g = _minibatch(X, y, w, idx)
        losses.append(loss)
        norms.append(torch.linalg.vector_norm(g))
        first = b1 * first + (1 - b1) * g
        second = b2 * second + (1 - b2) * g * g
        denom = (second / (1 - b2**t)).sqrt() + eps
        w = w - step_size * (first / (1 - b1**t)) / denom
    return OptimTrace(w, torch.stack(losses), torch.stack(norms))
