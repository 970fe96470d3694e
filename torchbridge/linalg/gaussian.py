"""PyTorch twins of `jaxla.gaussian`: MVN sampling and log-density, entropy, KL.

Σ = L Lᵀ by `torch.linalg.cholesky_ex` (NaN instead of an exception when Σ
is not positive definite, matching the JAX side); log|Σ| = 2 Σ log Lᵢᵢ and
the Mahalanobis term by `torch.linalg.solve_triangular`. Information
measures are in nats, from probabilities or logits.

References: Bishop, PRML (2006), section 2.3; Cover & Thomas (2006), ch. 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from torchbridge.linalg import _validate


def _mean(mean) -> torch.Tensor:
    return _validate.check_ndim(_validate.as_real(mean, "mean"), "mean", min_ndim=1)


def _lower_factor(mean: torch.Tensor, cov, chol) -> torch.Tensor:
    if (cov is None) == (chol is None):
        raise ValueError("Pass exactly one of `cov` and `chol`.")
    name, mat = ("cov", cov) if chol is None else ("chol", chol)
    mat = _validate.check_square(_validate.as_real(mat, name), name)
    d = mean.shape[-1]
    if mat.shape[-1] != d:
        raise ValueError(f"`{name}` must have shape (..., {d}, {d}) to match `mean` of shape "
                         f"{tuple(mean.shape)}; got {tuple(mat.shape)}.")
    mat = mat.to(torch.promote_types(mat.dtype, mean.dtype))
    if chol is not None:
        return mat.tril()
    L, info = torch.linalg.cholesky_ex(0.5 * (mat + mat.transpose(-1, -2)))
    failed = (info != 0)[..., None, None]
    return torch.where(failed, torch.full_like(L, math.nan), L)


def mvn_sample(mean: torch.Tensor, cov: torch.Tensor | None = None, *,
               chol: torch.Tensor | None = None, shape: Sequence[int] = (),
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Samples μ + L z of N(mean, L Lᵀ), shape `shape + batch + (d,)`.

    Exactly one of `cov` / `chol`; `generator` replaces the JAX key.
    """
    mean = _mean(mean)
    L = _lower_factor(mean, cov, chol)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise TypeError(f"`shape` must be a tuple of static ints; got {shape!r}.")
    batch = torch.broadcast_shapes(mean.shape[:-1], L.shape[:-2])
    d = mean.shape[-1]
    z = torch.randn(*shape, *batch, d, 1, dtype=L.dtype, device=L.device, generator=generator)
    return mean.to(L.dtype) + (L @ z).squeeze(-1)


def mvn_logpdf(x: torch.Tensor, mean: torch.Tensor, *, cov: torch.Tensor | None = None,
               chol: torch.Tensor | None = None) -> torch.Tensor:
    """log N(x; mean, Σ) = −½ (d log 2π + 2 Σ log Lᵢᵢ + ‖L⁻¹(x − μ)‖²)."""
    x = _validate.check_ndim(_validate.as_real(x, "x"), "x", min_ndim=1)
    mean = _mean(mean)
    if x.shape[-1] != mean.shape[-1]:
        raise ValueError(f"`x` has shape {tuple(x.shape)}, incompatible with `mean` of shape "
                         f"{tuple(mean.shape)} (last dimensions differ).")
    L = _lower_factor(mean, cov, chol)
    dtype = torch.promote_types(x.dtype, L.dtype)
    centered = (x - mean).to(dtype).unsqueeze(-1)
    L = L.to(dtype)
    batch = torch.broadcast_shapes(centered.shape[:-2], L.shape[:-2])
    y = torch.linalg.solve_triangular(L.expand(*batch, *L.shape[-2:]),
                                      centered.expand(*batch, *centered.shape[-2:]), upper=False)
    d = x.shape[-1]
    half_log_det = torch.diagonal(L, dim1=-2, dim2=-1).log().sum(-1)
    return -0.5 * d * math.log(2 * math.pi) - half_log_det - 0.5 * y.squeeze(-1).square().sum(-1)


def _probs_and_logs(probs, logits, name: str, logits_name: str, dim: int):
    if (probs is None) == (logits is None):
        raise ValueError(f"Pass exactly one of `{name}` and `{logits_name}`.")
    if logits is not None:
        logits = _validate.as_real(logits, logits_name)
        log_p = torch.log_softmax(logits, dim=dim)
        return log_p.exp(), log_p
    probs = _validate.as_real(probs, name)
    return probs, None


def _plogq(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """p · log q with the convention 0 · log q = 0."""
    return torch.where(p == 0, torch.zeros_like(p), p * q.log())


def entropy(p: torch.Tensor | None = None, *, logits: torch.Tensor | None = None,
            axis: int = -1) -> torch.Tensor:
    """H(p) = −Σ p log p in nats, from probabilities or `logits=`."""
    probs, log_p = _probs_and_logs(p, logits, "p", "logits", axis)
    if log_p is None:
        return -_plogq(probs, probs).sum(axis)
    return -(probs * log_p).sum(axis)


def _check_pair(p: torch.Tensor, q: torch.Tensor) -> None:
    try:
        torch.broadcast_shapes(p.shape, q.shape)
    except RuntimeError as err:
        raise ValueError(f"`p` and `q` must have broadcastable shapes; got {tuple(p.shape)} "
                         f"and {tuple(q.shape)}.") from err


def cross_entropy(p: torch.Tensor | None = None, q: torch.Tensor | None = None, *,
                  p_logits: torch.Tensor | None = None, q_logits: torch.Tensor | None = None,
                  axis: int = -1) -> torch.Tensor:
    """H(p, q) = −Σ p log q in nats; each of p, q as probabilities or logits."""
    p_probs, _ = _probs_and_logs(p, p_logits, "p", "p_logits", axis)
    q_probs, log_q = _probs_and_logs(q, q_logits, "q", "q_logits", axis)
    _check_pair(p_probs, q_probs)
    if log_q is None:
        return -_plogq(p_probs, q_probs).sum(axis)
    return -torch.where(p_probs == 0, torch.zeros_like(log_q), p_probs * log_q).sum(axis)


def kl_divergence(p: torch.Tensor | None = None, q: torch.Tensor | None = None, *,
                  p_logits: torch.Tensor | None = None, q_logits: torch.Tensor | None = None,
                  axis: int = -1) -> torch.Tensor:
    """KL(p‖q) = Σ p (log p − log q) ≥ 0 in nats; each as probabilities or logits."""
    p_probs, log_p = _probs_and_logs(p, p_logits, "p", "p_logits", axis)
    q_probs, log_q = _probs_and_logs(q, q_logits, "q", "q_logits", axis)
    _check_pair(p_probs, q_probs)
    log_p = p_probs.log() if log_p is None else log_p
    log_q = q_probs.log() if log_q is None else log_q
    terms = p_probs * (log_p - log_q)
    return torch.where(p_probs == 0, torch.zeros_like(terms), terms).sum(axis)
