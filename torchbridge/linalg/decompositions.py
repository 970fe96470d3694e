"""PyTorch twins of `jaxla.decompositions`: PCA, kernel PCA, NMF.

Same semantics and conventions as `jaxla` (and scikit-learn): components as
rows with their largest-|·| entry positive, explained variance with N − 1
degrees of freedom, kernel PCA by the doubly centered Gram matrix, NMF by
Lee–Seung multiplicative updates from scikit-learn's random init. Randomness
comes from `generator=`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from torchbridge.linalg import _validate
from torchbridge.linalg.randomized import randomized_svd


class PCAResult(NamedTuple):
    """A fitted PCA; see `jaxla.PCAResult` for the fields."""

    components: torch.Tensor
    explained_variance: torch.Tensor
    explained_variance_ratio: torch.Tensor
    mean: torch.Tensor
    singular_values: torch.Tensor
    scale: torch.Tensor | None = None


def _data(X) -> torch.Tensor:
    return _validate.check_matrix(_validate.as_real(X, "X"), "X")


def _positive_peak(V: torch.Tensor, dim: int) -> torch.Tensor:
    """Sign-normalize vectors along `dim`: the entry of largest magnitude becomes positive."""
    peak = torch.gather(V, dim, V.abs().argmax(dim=dim, keepdim=True)).sign()
    return V * torch.where(peak == 0, torch.ones_like(peak), peak)


def pca(X: torch.Tensor, n_components: int, *, method: str = "eigh", standardize: bool = False,
        generator: torch.Generator | None = None) -> PCAResult:
    """PCA of the rows of X (..., N, d) by covariance eigh, SVD or randomized SVD."""
    X = _data(X)
    _validate.check_choice(method, "method", ("eigh", "svd", "randomized"))
    N, d = X.shape[-2:]
    if N < 2:
        raise ValueError(f"`X` needs at least 2 samples (rows); got shape {tuple(X.shape)}.")
    k = _validate.check_positive_int(n_components, "n_components")
    if k > min(N, d):
        raise ValueError(f"`n_components` must be <= min(N, d) = {min(N, d)}; got {k}.")
    mean = X.mean(dim=-2)
    centered = X - mean.unsqueeze(-2)
    if standardize:
        std = centered.square().mean(dim=-2).sqrt()
        scale = torch.where(std > 0, std, torch.ones_like(std))
        centered = centered / scale.unsqueeze(-2)
    else:
        scale = torch.ones_like(mean)
    total = centered.square().sum(dim=(-2, -1)) / (N - 1)
    if method == "eigh":
        cov = centered.mT @ centered / (N - 1)
        evals, evecs = torch.linalg.eigh((cov + cov.mT) / 2)
        variance = evals.flip(-1)[..., :k].clamp_min(0)
        components = evecs.flip(-1)[..., :k].mT
        singular = (variance * (N - 1)).sqrt()
    else:
        if method == "svd":
            _, singular, Vh = torch.linalg.svd(centered, full_matrices=False)
        else:
            _, singular, Vh = randomized_svd(centered, k, generator=generator)
        singular, components = singular[..., :k], Vh[..., :k, :]
        variance = singular.square() / (N - 1)
    components = _positive_peak(components, -1)
    return PCAResult(components, variance, variance / total.unsqueeze(-1), mean, singular, scale)


def pca_transform(result: PCAResult, X: torch.Tensor) -> torch.Tensor:
    """Scores ((X − mean) / scale) componentsᵀ, (..., N, k)."""
    X = _data(X)
    if X.shape[-1] != result.components.shape[-1]:
        raise ValueError(f"`X` has {X.shape[-1]} features but the PCA was fit on "
                         f"{result.components.shape[-1]}; got shape {tuple(X.shape)}.")
    scale = result.scale if result.scale is not None else torch.ones_like(result.mean)
    return ((X - result.mean.unsqueeze(-2)) / scale.unsqueeze(-2)) @ result.components.mT


def kernel_pca(X: torch.Tensor, n_components: int, *, kernel: str = "rbf",
               gamma: float | None = None) -> torch.Tensor:
    """Kernel PCA embedding V_k Λ_k^{1/2} of the doubly centered kernel matrix."""
    X = _data(X)
    _validate.check_choice(kernel, "kernel", ("rbf", "poly", "linear"))
    N, d = X.shape[-2:]
    k = _validate.check_positive_int(n_components, "n_components")
    if k > N:
        raise ValueError(f"`n_components` must be <= N = {N}; got {k}.")
    gamma = 1.0 / d if gamma is None else gamma
    if kernel == "rbf":
        K = torch.exp(-gamma * torch.cdist(X, X).square())
    elif kernel == "poly":
        K = (gamma * (X @ X.mT) + 1.0) ** 3
    else:
        K = X @ X.mT
    J = torch.eye(N, dtype=X.dtype, device=X.device) - 1.0 / N
    Kc = J @ K @ J
    evals, evecs = torch.linalg.eigh((Kc + Kc.mT) / 2)
    evals, evecs = evals.flip(-1)[..., :k], evecs.flip(-1)[..., :k]
    return _positive_peak(evecs, -2) * evals.clamp_min(0).sqrt().unsqueeze(-2)


def nmf(X: torch.Tensor, rank: int, *, num_iters: int = 200, method: str = "mu",
        generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """X ≈ W H, W, H ≥ 0, by Lee–Seung multiplicative updates (Frobenius loss)."""
    X = _data(X)
    _validate.check_choice(method, "method", ("mu",))
    rank = _validate.check_positive_int(rank, "rank")
    num_iters = _validate.check_positive_int(num_iters, "num_iters", allow_zero=True)
    *batch, m, n = X.shape
    avg = (X.mean(dim=(-2, -1), keepdim=True) / rank).sqrt()
    W = avg * torch.randn(*batch, m, rank, dtype=X.dtype, device=X.device,
                          generator=generator).abs()
    H = avg * torch.randn(*batch, rank, n, dtype=X.dtype, device=X.device,
                          generator=generator).abs()
    tiny = torch.finfo(X.dtype).tiny
    for _ in range(num_iters):
        H = H * (W.mT @ X) / (W.mT @ W @ H + tiny)
        W = W * (X @ H.mT) / (W @ (H @ H.mT) + tiny)
    invalid = ((X < 0) | ~torch.isfinite(X)).flatten(-2).any(-1)[..., None, None]
    nan = torch.full((), float("nan"), dtype=X.dtype, device=X.device)
    return torch.where(invalid, nan, W), torch.where(invalid, nan, H)
