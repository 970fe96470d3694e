"""Stochastic first-order methods on least squares: minibatch SGD and Adam.

The stochastic half of the optimization family (`jaxla.optim` holds the
deterministic methods, the problem builders and `OptimTrace`). Both methods
minimize L(w) = (1/n)‖Xw − y‖² from minibatch gradients g_t = (2/B) X_Bᵀ(X_B w_t − y_B)
and run as one `lax.scan` over a (num_steps, batch_size) array of row indices,
so they jit, vmap and differentiate end to end (e.g. `jax.grad` of the final
loss with respect to `step_size`). The indices come from `minibatch_indices`
(epoch-wise shuffling without replacement, keyed randomness) and may be passed
explicitly as `batches=` to replay a trajectory exactly — including in the
PyTorch twins (`torchbridge.linalg.stochastic`), which use `torch.optim.SGD` /
`torch.optim.Adam` semantics.

References: Robbins & Monro (1951), "A stochastic approximation method";
Goodfellow, Bengio & Courville, Deep Learning (2016), §8.3; Kingma & Ba (2015),
"Adam: A method for stochastic optimization", Algorithm 1.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxla import _validate
from jaxla.optim import OptimTrace, _check_least_squares, _safe_norm

_HIGHEST = lax.Precision.HIGHEST


def minibatch_indices(key: jax.Array, num_examples: int, *, batch_size: int,
                      num_steps: int) -> jax.Array:
    """The row indices of every minibatch `sgd`/`adam` draw from `key`, up front.

    Epoch-wise sampling without replacement (like a shuffling `DataLoader` with
    `drop_last=True`): each epoch is a fresh permutation of the n rows, cut into
    ⌊n / batch_size⌋ batches. Pass the result as `batches=` to `sgd`/`adam` (or to
    their PyTorch twins) to replay the exact same trajectory.

    Args:
      key: `jax.random` key.
      num_examples: static n.
      batch_size: static rows per batch (<= n).
      num_steps: static number of batches.

    Returns:
      int32 array (num_steps, batch_size).
    """
    key = _validate.check_key(key)
    n = _validate.check_positive_int(num_examples, "num_examples")
    b = _validate.check_positive_int(batch_size, "batch_size")
    steps = _validate.check_positive_int(num_steps, "num_steps")
    if b > n:
        raise ValueError(f"`batch_size` must be <= num_examples = {n}; got {b}.")
    per_epoch = n // b
    epochs = -(-steps // per_epoch)
    perms = jax.vmap(lambda k: jax.random.permutation(k, n))(jax.random.split(key, epochs))
    batches = perms[:, : per_epoch * b].reshape(epochs * per_epoch, b)
    return batches[:steps].astype(jnp.int32)


def _stochastic_setup(key, X, y, w0, batch_size, num_steps, batches, scalars):
    X, y = _check_least_squares(X, y)
    w0 = _validate.as_float_array(w0, "w0", allow_complex=False)
    _validate.check_vector(w0, "w0", X.shape[1])
    if batches is None:
        if batch_size is None or num_steps is None:
            raise ValueError("`batch_size` and `num_steps` are required when `batches` "
                             "is not given.")
        batches = minibatch_indices(key, X.shape[0], batch_size=batch_size,
                                    num_steps=num_steps)
    else:
        batches = jnp.asarray(batches)
        if not jnp.issubdtype(batches.dtype, jnp.integer):
            raise TypeError(f"`batches` must be an integer array; got {batches.dtype}.")
        _validate.check_ndim(batches, "batches", ndim=2)
        for name, value, axis in (("num_steps", num_steps, 0), ("batch_size", batch_size, 1)):
            if value is not None and value != batches.shape[axis]:
                raise ValueError(f"`{name}`={value} disagrees with `batches` of shape "
                                 f"{batches.shape}.")
    dtype = jnp.result_type(X.dtype, y.dtype, w0.dtype)
    cast = [jnp.asarray(v).astype(dtype) for v in scalars]
    for v, name in zip(cast, ("step_size", "b1", "b2", "eps")):
        if v.shape != ():
            raise ValueError(f"`{name}` must be a scalar; got shape {v.shape}.")
    return X.astype(dtype), y.astype(dtype), w0.astype(dtype), batches, cast


def _minibatch_loss_grad(X, y, w, idx):
    Xb, yb = X[idx], y[idx]
    r = jnp.matmul(Xb, w, precision=_HIGHEST) - yb
    g = (2.0 / idx.shape[0]) * jnp.matmul(r, Xb, precision=_HIGHEST)
    return jnp.mean(r * r), g


def sgd(key: jax.Array | None, X: jax.Array, y: jax.Array, w0: jax.Array, *,
        step_size: Any, batch_size: int | None = None, num_steps: int | None = None,
        momentum: Any = 0.0, batches: jax.Array | None = None) -> OptimTrace:
    """Minibatch SGD (optionally with heavy-ball momentum) on L(w) = (1/n)‖Xw − y‖².

    Step t: g_t = (2/B) X_Bᵀ(X_B w_t − y_B) on minibatch B_t; v_t = μ v_{t−1} + g_t;
    w_{t+1} = w_t − α v_t — `torch.optim.SGD(lr=α, momentum=μ)` semantics.

    Args:
      key: `jax.random` key for `minibatch_indices` (ignored, may be None, when
        `batches` is given).
      X: (n, d) design; y: (n,) targets; w0: (d,) initial weights.
      step_size: α (traced ok). momentum: μ (traced ok, default 0).
      batch_size, num_steps: static; required unless `batches` is given.
      batches: optional (num_steps, batch_size) int row indices.

    Returns:
      `OptimTrace`; `losses`/`grad_norms` are minibatch values. Cost O(T·B·d).

    Reference: Robbins & Monro (1951); Goodfellow et al., Deep Learning, §8.3.
    """
    X, y, w0, batches, (alpha, mu) = _stochastic_setup(
        key, X, y, w0, batch_size, num_steps, batches, (step_size, momentum))

    def body(state, idx):
        w, v = state
        loss, g = _minibatch_loss_grad(X, y, w, idx)
        v = mu * v + g
        return (w - alpha * v, v), (loss, _safe_norm(g))

    (w, _), (losses, norms) = lax.scan(body, (w0, jnp.zeros_like(w0)), batches)
    return OptimTrace(w, losses, norms)


def adam(key: jax.Array | None, X: jax.Array, y: jax.Array, w0: jax.Array, *,
         step_size: Any = 1e-3, b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-8,
         batch_size: int | None = None, num_steps: int | None = None,
         batches: jax.Array | None = None) -> OptimTrace:
    """Adam with bias correction on minibatches of L(w) = (1/n)‖Xw − y‖².

    m_t = β₁m_{t−1} + (1−β₁)g_t, v_t = β₂v_{t−1} + (1−β₂)g_t²,
    w_{t+1} = w_t − η m̂_t/(√v̂_t + ε) with m̂_t = m_t/(1−β₁ᵗ), v̂_t = v_t/(1−β₂ᵗ)
    (t from 1) — `torch.optim.Adam` and `optax.adam` semantics (ε outside the
    square root).

    Args:
      key: `jax.random` key for `minibatch_indices` (ignored when `batches` given).
      X: (n, d) design; y: (n,) targets; w0: (d,) initial weights.
      step_size: η (default 1e-3). b1, b2, eps: defaults 0.9, 0.999, 1e-8.
      batch_size, num_steps: static; required unless `batches` is given.
      batches: optional (num_steps, batch_size) int row indices.

    Returns:
      `OptimTrace` with minibatch losses and gradient norms. Cost O(T·B·d).

    Reference: Kingma & Ba (2015), Algorithm 1.
    """
    X, y, w0, batches, (lr, beta1, beta2, eps_) = _stochastic_setup(
        key, X, y, w0, batch_size, num_steps, batches, (step_size, b1, b2, eps))
    steps = jnp.arange(1, batches.shape[0] + 1, dtype=w0.dtype)

    def body(state, inputs):
        w, m, v = state
        idx, t = inputs
        loss, g = _minibatch_loss_grad(X, y, w, idx)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        return (w - lr * m_hat / (jnp.sqrt(v_hat) + eps_), m, v), (loss, _safe_norm(g))

    zeros = jnp.zeros_like(w0)
    (w, _, _), (losses, norms) = lax.scan(body, (w0, zeros, zeros), (batches, steps))
    return OptimTrace(w, losses, norms)
