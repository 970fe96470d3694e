"""Cross-check cases for `jaxla.svd`, `jaxla.matfun` and `jaxla.gaussian`.

References are float64 NumPy/SciPy: `numpy.linalg.svd`, `scipy.linalg.expm`,
`numpy.linalg.eigh`, `scipy.stats.multivariate_normal`, `scipy.special`.
"""

from __future__ import annotations

import jax
import numpy as np
import scipy.linalg
import scipy.special
import scipy.stats
import torch

import jaxla
from torchbridge import linalg as tl
from torchbridge import testing
from torchbridge.crosscheck.registry import Case, register, values


# ---------------------------------------------------------------------- svd
def _svd_error(result, other, inputs) -> float:
    """Singular values (relative) and singular vectors up to sign (distinct σ)."""
    U, S, Vh = result
    U2, S2, Vh2 = other
    return max(testing.relative_error(S, S2),
               testing.eigvecs_error(U, U2),
               testing.eigvecs_error(np.swapaxes(testing.to_numpy(Vh), -1, -2),
                                     np.swapaxes(testing.to_numpy(Vh2), -1, -2)))


def _svd_values_and_residual(result, other, inputs) -> float:
    """Rank-deficient: vectors of the zero σ are arbitrary, so compare σ and ‖A − UΣVᵀ‖/‖A‖."""
    U, S, Vh = (testing.to_numpy(x) for x in result)
    A = inputs[0]
    recon = (U * S[..., None, :]) @ Vh
    return max(testing.relative_error(S, other[1]), testing.relative_error(recon, A))


def _with_spectrum(rng, m, n, sigma):
    U, _ = np.linalg.qr(rng.standard_normal((m, m)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    k = min(m, n)
    return (U[:, :k] * sigma) @ V[:, :k].T


_SVD_TOL = {"float32": 2e-5, "float64": 1e-11}  # vectors: error ~ eps / (relative gap ≈ 0.1)

register(Case(
    name="svd/tall",
    make_inputs=lambda rng: (_with_spectrum(rng, 9, 5, np.array([5.0, 3.0, 2.0, 1.0, 0.5])),),
    reference=lambda a: tuple(np.linalg.svd(a, full_matrices=False)),
    jax_fn=lambda a: tuple(jaxla.svd(a)),
    torch_fn=lambda a: tuple(tl.svd(a)),
    compare=_svd_error, tol=_SVD_TOL,
))

register(Case(
    name="svd/wide_batch",
    make_inputs=lambda rng: (np.stack([_with_spectrum(rng, 4, 7, np.array([4.0, 2.0, 1.0, 0.3]))
                                       for _ in range(3)]),),
    reference=lambda a: tuple(np.linalg.svd(a, full_matrices=False)),
    jax_fn=lambda a: tuple(jaxla.svd(a)),
    torch_fn=lambda a: tuple(tl.svd(a)),
    compare=_svd_error, tol=_SVD_TOL,
))

def _svd_full_error(result, other, inputs) -> float:
    """Full U: the first k columns up to sign, the rest only orthonormal (not unique)."""
    U, S, Vh = (testing.to_numpy(x) for x in result)
    U2, S2, Vh2 = (testing.to_numpy(x) for x in other)
    k = S.shape[-1]
    gram = np.swapaxes(U, -1, -2) @ U
    return max(testing.relative_error(S, S2),
               testing.eigvecs_error(U[..., :k], U2[..., :k]),
               testing.eigvecs_error(np.swapaxes(Vh, -1, -2), np.swapaxes(Vh2, -1, -2)),
               float(np.linalg.norm(gram - np.eye(U.shape[-1]))))


register(Case(
    name="svd/full_matrices",
    make_inputs=lambda rng: (_with_spectrum(rng, 7, 4, np.array([3.0, 2.0, 1.0, 0.5])),),
    reference=lambda a: tuple(np.linalg.svd(a, full_matrices=True)),
    jax_fn=lambda a: tuple(jaxla.svd(a, full_matrices=True)),
    torch_fn=lambda a: tuple(tl.svd(a, full_matrices=True)),
    compare=_svd_full_error, tol=_SVD_TOL,
))

register(Case(
    name="svd/rank_deficient",
    make_inputs=lambda rng: (_with_spectrum(rng, 8, 6, np.array([3.0, 2.0, 1.0, 0, 0, 0])),),
    reference=lambda a: tuple(np.linalg.svd(a, full_matrices=False)),
    jax_fn=lambda a: tuple(jaxla.svd(a)),
    torch_fn=lambda a: tuple(tl.svd(a)),
    compare=_svd_values_and_residual,
    # Zero σ are computed as O(eps·σ_max), so the relative error of the whole
    # σ vector is a few eps; the default tolerance holds.
))

# ------------------------------------------------------------------ matfun
register(Case(
    name="expm/small_norm",
    make_inputs=lambda rng: (0.05 * rng.standard_normal((3, 6, 6)),),
    reference=scipy.linalg.expm,
    jax_fn=jaxla.expm,
    torch_fn=tl.expm,
))

register(Case(
    name="expm/scaling_squaring",
    make_inputs=lambda rng: (2.0 * rng.standard_normal((8, 8)),),
    reference=scipy.linalg.expm,
    jax_fn=jaxla.expm,
    torch_fn=tl.expm,
    # ‖A‖₁ ≈ 15 needs 2–3 squarings; each squaring doubles the relative
    # error (condition of exp grows with ‖A‖), so allow 10× the default.
    tol={"float32": 6.5e-5, "float64": 1.8e-11},
))

register(Case(
    name="expm/rotation",
    make_inputs=lambda rng: (np.array([[0.0, -1.0], [1.0, 0.0]]),),
    reference=scipy.linalg.expm,
    jax_fn=jaxla.expm,
    torch_fn=tl.expm,
))


def _spd(rng, n, batch=()):
    B = rng.standard_normal((*batch, n, n))
    return B @ np.swapaxes(B, -1, -2) / n + np.eye(n)


def _funm_reference(f):
    def reference(a):
        w, Q = np.linalg.eigh(a)
        return (Q * f(w)[..., None, :]) @ np.swapaxes(Q, -1, -2)
    return reference


register(Case(
    name="funm_eigh/sqrt",
    make_inputs=lambda rng: (_spd(rng, 6, (2,)),),
    reference=_funm_reference(np.sqrt),
    jax_fn=lambda a: jaxla.funm_eigh(a, jax.numpy.sqrt),
    torch_fn=lambda a: tl.funm_eigh(a, torch.sqrt),
))

register(Case(
    name="funm_eigh/exp",
    make_inputs=lambda rng: (_spd(rng, 5),),
    reference=lambda a: scipy.linalg.expm(a),
    jax_fn=lambda a: jaxla.funm_eigh(a, jax.numpy.exp),
    torch_fn=lambda a: tl.funm_eigh(a, torch.exp),
))

# ---------------------------------------------------------------- gaussian
def _mvn_inputs(rng):
    d = 4
    return rng.standard_normal((10, d)), rng.standard_normal(d), _spd(rng, d)


register(Case(
    name="mvn_logpdf/cov",
    make_inputs=_mvn_inputs,
    reference=lambda x, mu, cov: scipy.stats.multivariate_normal(mu, cov).logpdf(x),
    jax_fn=lambda x, mu, cov: jaxla.mvn_logpdf(x, mu, cov=cov),
    torch_fn=lambda x, mu, cov: tl.mvn_logpdf(x, mu, cov=cov),
))

register(Case(
    name="mvn_logpdf/chol_batch",
    make_inputs=lambda rng: (rng.standard_normal((5, 3, 4)), rng.standard_normal((3, 4)),
                             np.linalg.cholesky(_spd(rng, 4, (3,)))),
    reference=lambda x, mu, L: np.stack([
        scipy.stats.multivariate_normal(mu[i], L[i] @ L[i].T).logpdf(x[:, i])
        for i in range(3)], axis=1),
    jax_fn=lambda x, mu, L: jaxla.mvn_logpdf(x, mu, chol=L),
    torch_fn=lambda x, mu, L: tl.mvn_logpdf(x, mu, chol=L),
))

_NUM_SAMPLES = 40_000


def _sample_cov(x):
    centered = x - x.mean(0)
    return centered.T @ centered / (x.shape[0] - 1)


register(Case(
    name="mvn_sample/covariance",
    make_inputs=lambda rng: (rng.standard_normal(3), _spd(rng, 3)),
    reference=lambda mu, cov: (mu, cov),
    jax_fn=lambda mu, cov: (lambda x: (x.mean(0), _sample_cov(x)))(
        jaxla.mvn_sample(jax.random.key(0), mu, cov, shape=(_NUM_SAMPLES,))),
    torch_fn=lambda mu, cov: (lambda x: (x.mean(0), _sample_cov(x)))(
        tl.mvn_sample(mu, cov, shape=(_NUM_SAMPLES,),
                      generator=torch.Generator(device=mu.device).manual_seed(0))),
    compare=values,
    # Monte Carlo: the relative error of sample moments is ~1/√N ≈ 0.005–0.02
    # (mean, covariance), independent of dtype.
    tol={"float32": 0.05, "float64": 0.05},
))

# ----------------------------------------------------------- information
def _two_dists(rng):
    return rng.dirichlet(np.ones(6), size=4), rng.dirichlet(np.ones(6), size=4)


register(Case(
    name="entropy/probs",
    make_inputs=lambda rng: (rng.dirichlet(np.ones(6), size=4),),
    reference=lambda p: scipy.stats.entropy(p, axis=-1),
    jax_fn=jaxla.entropy,
    torch_fn=tl.entropy,
))

register(Case(
    name="entropy/logits",
    make_inputs=lambda rng: (3.0 * rng.standard_normal((4, 6)),),
    reference=lambda z: scipy.stats.entropy(scipy.special.softmax(z, axis=-1), axis=-1),
    jax_fn=lambda z: jaxla.entropy(logits=z),
    torch_fn=lambda z: tl.entropy(logits=z),
))

register(Case(
    name="cross_entropy/probs",
    make_inputs=_two_dists,
    reference=lambda p, q: -np.sum(p * np.log(q), axis=-1),
    jax_fn=jaxla.cross_entropy,
    torch_fn=tl.cross_entropy,
))

register(Case(
    name="cross_entropy/logits",
    make_inputs=lambda rng: (rng.dirichlet(np.ones(6), size=4), 2.0 * rng.standard_normal((4, 6))),
    reference=lambda p, z: -np.sum(p * scipy.special.log_softmax(z, axis=-1), axis=-1),
    jax_fn=lambda p, z: jaxla.cross_entropy(p, q_logits=z),
    torch_fn=lambda p, z: tl.cross_entropy(p, q_logits=z),
))

register(Case(
    name="kl_divergence/probs",
    make_inputs=_two_dists,
    reference=lambda p, q: np.sum(scipy.special.rel_entr(p, q), axis=-1),
    jax_fn=jaxla.kl_divergence,
    torch_fn=tl.kl_divergence,
))

register(Case(
    name="kl_divergence/logits",
    make_inputs=lambda rng: (rng.standard_normal((4, 6)), rng.standard_normal((4, 6))),
    reference=lambda a, b: np.sum(scipy.special.rel_entr(scipy.special.softmax(a, axis=-1),
                                                         scipy.special.softmax(b, axis=-1)),
                                  axis=-1),
    jax_fn=lambda a, b: jaxla.kl_divergence(p_logits=a, q_logits=b),
    torch_fn=lambda a, b: tl.kl_divergence(p_logits=a, q_logits=b),
))
