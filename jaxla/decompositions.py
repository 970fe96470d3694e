"""Matrix decompositions for data analysis: PCA, kernel PCA, NMF.

* `pca`: center (optionally standardize) X, then the top eigenvectors of the
  covariance X̃ᵀX̃/(N − 1) ("eigh"), the SVD of X̃ ("svd") or `randomized_svd`
  of X̃ ("randomized"); `pca_transform` projects new data (Jolliffe, Principal
  Component Analysis, 2nd ed., ch. 1–3).
* `kernel_pca`: eigenvectors of the doubly centered kernel matrix (Schölkopf,
  Smola & Müller, Neural Computation 10 (1998)).
* `nmf`: X ≈ W H with W, H ≥ 0 by Lee–Seung multiplicative updates for the
  Frobenius loss (Lee & Seung, NIPS 13 (2001)).

Conventions follow scikit-learn so results can be compared entry by entry:
components are rows, and each component's largest-|·| entry is positive
(scikit-learn's `svd_flip(..., u_based_decision=False)` in `PCA`); kernel PCA
eigenvectors have their largest-|·| entry positive (as `KernelPCA`). The small
dense eigh/SVD calls use `jnp.linalg` (LAPACK on CPU).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxla import _validate
from jaxla.randomized import randomized_svd

_HIGHEST = lax.Precision.HIGHEST


def _largest_entry_positive(V: jax.Array, axis: int) -> jax.Array:
    """Flip each vector along `axis` so that its largest-|·| entry is positive."""
    idx = jnp.argmax(jnp.abs(V), axis=axis, keepdims=True)
    signs = jnp.sign(jnp.take_along_axis(V, idx, axis=axis))
    return V * jnp.where(signs == 0, 1, signs).astype(V.dtype)


class PCAResult(NamedTuple):
    """A fitted PCA (scikit-learn's attribute names without the trailing `_`).

    Attributes:
      components: principal axes as rows, (..., k, d), orthonormal.
      explained_variance: variance along each axis, λ_j = σ_j²/(N − 1), (..., k).
      explained_variance_ratio: λ_j / total variance, (..., k).
      mean: per-feature mean subtracted before projecting, (..., d).
      singular_values: σ_j of the centered (standardized) data, (..., k).
      scale: per-feature divisor (standard deviation when `standardize=True`,
        else ones), (..., d). An addition to the contract's five fields.
    """

    components: jax.Array
    explained_variance: jax.Array
    explained_variance_ratio: jax.Array
    mean: jax.Array
    singular_values: jax.Array
    scale: jax.Array | None = None


def _pca_2d(X: jax.Array, key, n_components: int, method: str,
            standardize: bool) -> PCAResult:
    N, d = X.shape
    mean = jnp.mean(X, axis=0)
    Xc = X - mean
    if standardize:
        std = jnp.sqrt(jnp.mean(Xc * Xc, axis=0))     # ddof=0, as StandardScaler
        scale = jnp.where(std > 0, std, 1.0)
        Xc = Xc / scale
    else:
        scale = jnp.ones((d,), X.dtype)
    dof = N - 1
    total = jnp.sum(Xc * Xc) / dof
    if method == "eigh":
        C = jnp.matmul(Xc.T, Xc, precision=_HIGHEST) / dof
        w, V = jnp.linalg.eigh(0.5 * (C + C.T))
        var = jnp.maximum(w[::-1][:n_components], 0.0)
        comps = V[:, ::-1][:, :n_components].T
        sv = jnp.sqrt(var * dof)
    else:
        if method == "svd":
            _, sv, Vh = jnp.linalg.svd(Xc, full_matrices=False)
        else:
            _, sv, Vh = randomized_svd(key, Xc, n_components)
        sv, comps = sv[:n_components], Vh[:n_components]
        var = sv**2 / dof
    comps = _largest_entry_positive(comps, axis=-1)
    return PCAResult(comps, var, var / total, mean, sv, scale)


def pca(X: jax.Array, n_components: int, *, method: str = "eigh", key: jax.Array | None = None,
        standardize: bool = False) -> PCAResult:
    """Principal component analysis of the rows of X.

    X̃ = (X − mean) [/ std], covariance Σ = X̃ᵀX̃/(N − 1); the components are the
    eigenvectors of Σ for the k largest eigenvalues, equivalently the top right
    singular vectors of X̃; explained variance ratio λ_j / tr Σ.
    Cost: O(Nd² + d³) ("eigh"), O(Nd·min(N, d)) ("svd"), O(Nd k) ("randomized",
    scikit-learn's `randomized_svd` defaults).

    Differences from scikit-learn's `PCA`: `standardize=True` divides by the
    population standard deviation first (what `StandardScaler` then `PCA`
    does); the result carries that `scale` for `pca_transform`. Leading batch
    dimensions are allowed (one PCA per matrix).

    Args:
      X: data, (..., N, d), N >= 2.
      n_components: k <= min(N, d), static.
      method: "eigh" | "svd" | "randomized".
      key: `jax.random` key, required for method="randomized".
      standardize: divide each centered feature by its standard deviation
        (features with zero variance are left as they are).

    Returns:
      `PCAResult`; components have their largest-|·| entry positive.
    """
    X = _validate.as_float_array(X, "X", allow_complex=False)
    _validate.check_matrix(X, "X")
    _validate.check_choice(method, "method", ("eigh", "svd", "randomized"))
    N, d = X.shape[-2:]
    if N < 2:
        raise ValueError(f"`X` needs at least 2 samples (rows); got shape {tuple(X.shape)}.")
    n_components = _validate.check_positive_int(n_components, "n_components")
    if n_components > min(N, d):
        raise ValueError(
            f"`n_components` must be <= min(N, d) = {min(N, d)}; got {n_components}.")
    if method == "randomized":
        if key is None:
            raise ValueError('`key` is required for method="randomized".')
        key = _validate.check_key(key)
    batch = X.shape[:-2]
    flat = X.reshape((-1, N, d))
    keys = (jax.random.split(key, flat.shape[0]) if method == "randomized"
            else jnp.zeros((flat.shape[0],)))
    fit = jax.vmap(lambda x, k: _pca_2d(x, k, n_components, method, standardize))
    out = fit(flat, keys)
    return PCAResult(*(leaf.reshape(batch + leaf.shape[1:]) for leaf in out))


def pca_transform(result: PCAResult, X: jax.Array) -> jax.Array:
    """Project X onto the principal axes: Z = ((X − mean) / scale) componentsᵀ.

    Args:
      result: a `PCAResult` from `pca`.
      X: data, (..., N, d) (batch dims broadcast with the result's).

    Returns:
      Scores, (..., N, k).
    """
    X = _validate.as_float_array(X, "X", allow_complex=False)
    _validate.check_matrix(X, "X")
    comps = result.components
    if X.shape[-1] != comps.shape[-1]:
        raise ValueError(f"`X` has {X.shape[-1]} features but the PCA was fit on "
                         f"{comps.shape[-1]}; got shape {tuple(X.shape)}.")
    scale = result.scale if result.scale is not None else jnp.ones_like(result.mean)
    Xc = (X - result.mean[..., None, :]) / scale[..., None, :]
    return jnp.matmul(Xc, jnp.swapaxes(comps, -1, -2), precision=_HIGHEST)


def _kernel_matrix(X: jax.Array, kernel: str, gamma) -> jax.Array:
    G = jnp.matmul(X, X.T, precision=_HIGHEST)
    if kernel == "linear":
        return G
    if kernel == "poly":   # scikit-learn's defaults: degree 3, coef0 1
        return (gamma * G + 1.0) ** 3
    sq = jnp.diagonal(G)
    dist2 = jnp.maximum(sq[:, None] + sq[None, :] - 2.0 * G, 0.0)
    return jnp.exp(-gamma * dist2)


def kernel_pca(X: jax.Array, n_components: int, *, kernel: str = "rbf",
               gamma: float | None = None) -> jax.Array:
    """Kernel PCA embedding of the training points.

    K_ij = k(x_i, x_j); centering in feature space K̃ = (I − 1/N) K (I − 1/N);
    K̃ = V Λ Vᵀ; the embedding is V_k Λ_k^{1/2} (negative λ clipped to 0).
    Kernels: "rbf" exp(−γ‖x − y‖²), "poly" (γ xᵀy + 1)³, "linear" xᵀy; γ
    defaults to 1/d as in scikit-learn. With the linear kernel this equals the
    PCA scores (up to sign). Cost O(N²d + N³).

    Same numbers as scikit-learn's `KernelPCA(...).fit_transform(X)` with
    `eigen_solver="dense"` (eigenvectors flipped so their largest-|·| entry is
    positive). Leading batch dimensions are allowed.

    Args:
      X: data, (..., N, d).
      n_components: k <= N, static.
      kernel: "rbf" | "poly" | "linear".
      gamma: kernel coefficient (may be traced); None → 1/d.

    Returns:
      Embedding, (..., N, k), ordered by decreasing eigenvalue.
    """
    X = _validate.as_float_array(X, "X", allow_complex=False)
    _validate.check_matrix(X, "X")
    _validate.check_choice(kernel, "kernel", ("rbf", "poly", "linear"))
    N, d = X.shape[-2:]
    n_components = _validate.check_positive_int(n_components, "n_components")
    if n_components > N:
        raise ValueError(f"`n_components` must be <= N = {N}; got {n_components}.")
    gamma = 1.0 / d if gamma is None else gamma

    def embed(x):
        K = _kernel_matrix(x, kernel, gamma)
        Kc = K - K.mean(0, keepdims=True) - K.mean(1, keepdims=True) + K.mean()
        w, V = jnp.linalg.eigh(0.5 * (Kc + Kc.T))
        w, V = w[::-1][:n_components], V[:, ::-1][:, :n_components]
        V = _largest_entry_positive(V, axis=0)
        return V * jnp.sqrt(jnp.maximum(w, 0.0))

    return jnp.vectorize(embed, signature="(n,d)->(n,k)")(X)


def _frobenius_loss(X, W, H):
    R = X - jnp.matmul(W, H, precision=_HIGHEST)
    return 0.5 * jnp.sum(R * R)


def _mu_step(X, W, H, tiny):
    """One Lee–Seung sweep: H ← H ⊙ WᵀX / WᵀWH, then W ← W ⊙ XHᵀ / WHHᵀ."""
    mm = lambda a, b: jnp.matmul(a, b, precision=_HIGHEST)  # noqa: E731
    H = H * mm(W.T, X) / (mm(mm(W.T, W), H) + tiny)
    W = W * mm(X, H.T) / (mm(W, mm(H, H.T)) + tiny)
    return W, H


def _nmf_trace(key, X, rank, num_iters):
    """(W, H, losses[num_iters + 1]) of the multiplicative updates; losses[0] is the init."""
    m, n = X.shape
    k1, k2 = jax.random.split(key)
    # scikit-learn's init="random": |N(0, 1)| · sqrt(mean(X) / rank).
    avg = jnp.sqrt(jnp.mean(X) / rank)
    W = avg * jnp.abs(jax.random.normal(k1, (m, rank), X.dtype))
    H = avg * jnp.abs(jax.random.normal(k2, (rank, n), X.dtype))
    tiny = jnp.finfo(X.dtype).tiny

    def step(carry, _):
        W, H = _mu_step(X, *carry, tiny)
        return (W, H), _frobenius_loss(X, W, H)

    loss0 = _frobenius_loss(X, W, H)
    (W, H), losses = lax.scan(step, (W, H), None, length=num_iters)
    losses = jnp.concatenate([loss0[None], losses])
    bad = jnp.any(X < 0) | ~jnp.all(jnp.isfinite(X))
    nan = jnp.asarray(jnp.nan, X.dtype)
    return jnp.where(bad, nan, W), jnp.where(bad, nan, H), losses


def nmf(key: jax.Array, X: jax.Array, rank: int, *, num_iters: int = 200,
        method: str = "mu") -> tuple[jax.Array, jax.Array]:
    """Non-negative matrix factorization X ≈ W H, W, H ≥ 0 (Frobenius loss).

    Multiplicative updates H ← H ⊙ (WᵀX) ⊘ (WᵀWH), W ← W ⊙ (XHᵀ) ⊘ (WHHᵀ)
    (Lee & Seung 2001): each sweep keeps W, H non-negative and never increases
    ½‖X − WH‖²_F. Random init as scikit-learn's `init="random"`. Cost
    O(mn·rank) per iteration; fixed `num_iters` (`lax.scan`).

    Negative or non-finite entries in X give NaN outputs (no error under jit).
    Leading batch dimensions are allowed (one independent init per matrix).

    Args:
      key: `jax.random` key for the initialization.
      X: non-negative data, (..., m, n).
      rank: inner dimension, static.
      num_iters: number of update sweeps, static.
      method: "mu" (multiplicative updates; the only method so far).

    Returns:
      `(W (..., m, rank), H (..., rank, n))`.
    """
    key = _validate.check_key(key)
    X = _validate.as_float_array(X, "X", allow_complex=False)
    _validate.check_matrix(X, "X")
    _validate.check_choice(method, "method", ("mu",))
    rank = _validate.check_positive_int(rank, "rank")
    num_iters = _validate.check_positive_int(num_iters, "num_iters", allow_zero=True)
    m, n = X.shape[-2:]
    batch = X.shape[:-2]
    flat = X.reshape((-1, m, n))
    keys = jax.random.split(key, flat.shape[0]) if batch else key[None]
    W, H, _ = jax.vmap(lambda k, x: _nmf_trace(k, x, rank, num_iters))(keys, flat)
    return W.reshape(batch + W.shape[1:]), H.reshape(batch + H.shape[1:])
