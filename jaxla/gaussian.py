"""Gaussians and information measures: MVN sampling/log-density, entropy, KL.

Multivariate normal N(μ, Σ) through the Cholesky factor Σ = L Lᵀ:
sampling x = μ + L z with z ~ N(0, I), and the log-density

    log p(x) = −½ (d log 2π + log|Σ| + ‖L⁻¹(x − μ)‖²),  log|Σ| = 2 Σᵢ log Lᵢᵢ,

with one triangular solve and never an inverse. Discrete distributions:
entropy H(p) = −Σ p log p, cross-entropy H(p, q) = −Σ p log q ≥ H(p) and
KL(p‖q) = H(p, q) − H(p) ≥ 0, all in nats, from probabilities or logits.

References:
  C. M. Bishop, Pattern Recognition and Machine Learning (2006), section 2.3.
  Golub & Van Loan, Matrix Computations (4th ed.), section 4.2 (Cholesky).
  T. M. Cover & J. A. Thomas, Elements of Information Theory (2006), ch. 2.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.special import xlogy

from jaxla import _validate


def _cholesky_factor(mean: jax.Array, cov, chol) -> jax.Array:
    """The lower Cholesky factor from exactly one of `cov` / `chol`."""
    if (cov is None) == (chol is None):
        raise ValueError("Pass exactly one of `cov` and `chol`.")
    name, mat = ("cov", cov) if chol is None else ("chol", chol)
    mat = _validate.real_square(mat, name)
    d = mean.shape[-1]
    if mat.shape[-1] != d:
        raise ValueError(
            f"`{name}` must have shape (..., {d}, {d}) to match `mean` of shape "
            f"{tuple(mean.shape)}; got {tuple(mat.shape)}."
        )
    dtype = jnp.result_type(mean.dtype, mat.dtype)
    mat = mat.astype(dtype)
    if chol is not None:
        return jnp.tril(mat)
    # NaN-filled for a covariance that is not positive definite.
    return lax.linalg.cholesky(0.5 * (mat + jnp.swapaxes(mat, -1, -2)), symmetrize_input=False)


def _as_mean(mean) -> jax.Array:
    mean = _validate.as_float_array(mean, "mean", allow_complex=False)
    _validate.check_ndim(mean, "mean", min_ndim=1)
    return mean


def mvn_sample(key: jax.Array, mean: jax.Array, cov: jax.Array | None = None, *,
               chol: jax.Array | None = None, shape: Sequence[int] = ()) -> jax.Array:
    """Draw samples x = μ + L z, z ~ N(0, I), from N(mean, L Lᵀ).

    Args:
      key: a `jax.random` key.
      mean: μ, shape (..., d).
      cov: Σ, shape (..., d, d), symmetric positive definite (its symmetric
        part is used). Exactly one of `cov` and `chol` must be given.
      chol: lower-triangular L with Σ = L Lᵀ (the upper triangle is ignored);
        skips the factorization.
      shape: static sample shape, prepended to the output.

    Returns:
      Array of shape `shape + batch + (d,)`, where `batch` broadcasts the batch
      dims of `mean` and of the covariance (the torch.distributions
      convention). A `cov` that is not positive definite yields NaN samples
      (the Cholesky factor is NaN-filled), never an error under `jit`.

    Complexity: O(d³) for the factorization plus O(N d²) for N samples.

    Differences: `jax.random.multivariate_normal` treats `shape` as the full
    batch shape and factors Σ by default with an SVD; here `shape` is
    prepended (like `torch.distributions.MultivariateNormal.sample`).
    """
    key = _validate.check_key(key)
    mean = _as_mean(mean)
    L = _cholesky_factor(mean, cov, chol)
    try:
        shape = tuple(_validate.check_positive_int(s, "shape", allow_zero=True)
                      for s in shape)
    except TypeError as err:
        raise TypeError(f"`shape` must be a tuple of static ints; got {shape!r}.") from err
    return _sample(key, mean.astype(L.dtype), L, shape)


@functools.partial(jax.jit, static_argnames=("shape",))
def _sample(key: jax.Array, mean: jax.Array, L: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    batch = jnp.broadcast_shapes(mean.shape[:-1], L.shape[:-2])
    d = mean.shape[-1]
    z = jax.random.normal(key, (*shape, *batch, d), L.dtype)
    Lz = jnp.einsum("...ij,...j->...i", L, z, precision=lax.Precision.HIGHEST)
    return mean + Lz


def mvn_logpdf(x: jax.Array, mean: jax.Array, *, cov: jax.Array | None = None,
               chol: jax.Array | None = None) -> jax.Array:
    """Log-density of N(mean, Σ) at x, through the Cholesky factor of Σ.

    log p(x) = −½ (d log 2π + 2 Σᵢ log Lᵢᵢ + ‖y‖²) with L y = x − μ solved by
    forward substitution.

    Args:
      x: points, shape (..., d).
      mean: μ, shape (..., d), broadcast against `x`.
      cov: Σ (..., d, d), symmetric positive definite. Exactly one of `cov`
        and `chol` must be given.
      chol: lower-triangular L with Σ = L Lᵀ (positive diagonal).

    Returns:
      log p(x), shape broadcast(x.shape[:-1], mean.shape[:-1], batch of Σ).
      NaN when `cov` is not positive definite. Differentiable in x, mean
      and cov/chol.

    Complexity: O(d³) for the factorization plus O(N d²) for N points.

    Differences: like `jax.scipy.stats.multivariate_normal.logpdf`, but also
    accepts the Cholesky factor directly and batches of covariances.
    """
    x = _validate.as_float_array(x, "x", allow_complex=False)
    _validate.check_ndim(x, "x", min_ndim=1)
    mean = _as_mean(mean)
    if x.shape[-1] != mean.shape[-1]:
        raise ValueError(
            f"`x` has shape {tuple(x.shape)}, incompatible with `mean` of shape "
            f"{tuple(mean.shape)} (last dimensions differ)."
        )
    L = _cholesky_factor(mean, cov, chol)
    return _logpdf(x, mean, L)


@jax.jit
def _logpdf(x: jax.Array, mean: jax.Array, L: jax.Array) -> jax.Array:
    dtype = jnp.result_type(x.dtype, L.dtype)
    diff = (x - mean).astype(dtype)
    L = L.astype(dtype)
    d = diff.shape[-1]
    batch = jnp.broadcast_shapes(diff.shape[:-1], L.shape[:-2])
    n_lead = len(batch) - (L.ndim - 2)
    lead, tail = batch[:n_lead], batch[n_lead:]
    # Solve L Y = D with all leading sample dims as right-hand-side columns:
    # one triangular solve per distinct covariance.
    diff = jnp.broadcast_to(diff, batch + (d,)).reshape((math.prod(lead), *tail, d))
    rhs = jnp.moveaxis(diff, 0, -1)  # (*tail, d, N)
    L = jnp.broadcast_to(L, (*tail, d, d))
    y = lax.linalg.triangular_solve(L, rhs, left_side=True, lower=True)
    maha = jnp.moveaxis(jnp.sum(y * y, axis=-2), -1, 0).reshape(batch)
    log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(L, axis1=-2, axis2=-1)), axis=-1)
    return -0.5 * (d * math.log(2.0 * math.pi) + log_det + maha)


def _distribution(probs, logits, name: str, logits_name: str,
                  axis: int) -> tuple[jax.Array, jax.Array | None]:
    """(p, log p) from exactly one of probabilities / logits (log p None for probabilities)."""
    if (probs is None) == (logits is None):
        raise ValueError(f"Pass exactly one of `{name}` and `{logits_name}`.")
    if logits is not None:
        logits = _validate.as_float_array(logits, logits_name, allow_complex=False)
        _validate.check_ndim(logits, logits_name, min_ndim=1)
        log_p = jax.nn.log_softmax(logits, axis=axis)
        return jnp.exp(log_p), log_p
    probs = _validate.as_float_array(probs, name, allow_complex=False)
    _validate.check_ndim(probs, name, min_ndim=1)
    return probs, None


def entropy(p: jax.Array | None = None, *, logits: jax.Array | None = None,
            axis: int = -1) -> jax.Array:
    """Shannon entropy H(p) = −Σ pᵢ log pᵢ in nats (0 log 0 = 0).

    Args:
      p: probabilities along `axis` (not renormalized; the caller ensures
        p ≥ 0 and Σ p = 1).
      logits: unnormalized log-probabilities instead of `p` (softmax along
        `axis`, computed stably with log-softmax).
      axis: the event axis.

    Returns:
      H(p) with `axis` removed. Complexity O(size).
    """
    probs, log_p = _distribution(p, logits, "p", "logits", axis)
    if log_p is None:
        return -jnp.sum(xlogy(probs, probs), axis=axis)
    return -jnp.sum(probs * log_p, axis=axis)


def cross_entropy(p: jax.Array | None = None, q: jax.Array | None = None, *,
                  p_logits: jax.Array | None = None, q_logits: jax.Array | None = None,
                  axis: int = -1) -> jax.Array:
    """Cross-entropy H(p, q) = −Σ pᵢ log qᵢ in nats; H(p, q) ≥ H(p).

    Each distribution is given either as probabilities (`p`, `q`) or as
    logits (`p_logits`, `q_logits`); e.g. the classification loss with
    one-hot or soft labels is `cross_entropy(labels, q_logits=scores)`.

    Args:
      p, q: probabilities along `axis` (broadcastable shapes).
      p_logits, q_logits: logits instead of probabilities.
      axis: the event axis.

    Returns:
      H(p, q) with `axis` removed; +inf where qᵢ = 0 < pᵢ. Complexity O(size).

    Differences: `optax.softmax_cross_entropy(logits, labels)` is
    `cross_entropy(labels, q_logits=logits)`.
    """
    p_probs, _ = _distribution(p, p_logits, "p", "p_logits", axis)
    q_probs, log_q = _distribution(q, q_logits, "q", "q_logits", axis)
    _check_broadcast(p_probs, q_probs)
    if log_q is None:
        return -jnp.sum(xlogy(p_probs, q_probs), axis=axis)
    return -jnp.sum(jnp.where(p_probs == 0, 0.0, p_probs * log_q), axis=axis)


def kl_divergence(p: jax.Array | None = None, q: jax.Array | None = None, *,
                  p_logits: jax.Array | None = None, q_logits: jax.Array | None = None,
                  axis: int = -1) -> jax.Array:
    """Kullback–Leibler divergence KL(p‖q) = Σ pᵢ (log pᵢ − log qᵢ) ≥ 0, in nats.

    Args:
      p, q: probabilities along `axis` (broadcastable shapes); or
      p_logits, q_logits: logits instead of probabilities.
      axis: the event axis.

    Returns:
      KL(p‖q) = H(p, q) − H(p) with `axis` removed; terms with pᵢ = 0
      contribute 0, and +inf where qᵢ = 0 < pᵢ. Complexity O(size).

    Differences: `scipy.special.rel_entr` summed over `axis`; from logits
    it is computed from log-softmax, without forming log(0).
    """
    p_probs, log_p = _distribution(p, p_logits, "p", "p_logits", axis)
    q_probs, log_q = _distribution(q, q_logits, "q", "q_logits", axis)
    _check_broadcast(p_probs, q_probs)
    if log_p is None and log_q is None:
        return jnp.sum(xlogy(p_probs, p_probs) - xlogy(p_probs, q_probs), axis=axis)
    log_p = jnp.log(p_probs) if log_p is None else log_p
    log_q = jnp.log(q_probs) if log_q is None else log_q
    terms = jnp.where(p_probs == 0, 0.0, p_probs * (log_p - log_q))
    return jnp.sum(terms, axis=axis)


def _check_broadcast(p: jax.Array, q: jax.Array) -> None:
    try:
        jnp.broadcast_shapes(p.shape, q.shape)
    except ValueError as err:
        raise ValueError(
            f"`p` and `q` must have broadcastable shapes; got {tuple(p.shape)} and "
            f"{tuple(q.shape)}."
        ) from err
