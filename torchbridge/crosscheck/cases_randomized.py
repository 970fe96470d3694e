"""Cross-check cases for `jaxla.randomized` and `jaxla.decompositions`.

Sketch-based functions get the *same* Gaussian Ω (shared through DLPack), so
JAX, PyTorch and a float64 NumPy transcription of Halko–Martinsson–Tropp must
produce the same factors (signs fixed by the `svd_flip` convention). Functions
that draw their own randomness run on exactly low-rank inputs, where every
sketch gives the same answer. PCA is checked against scikit-learn's `PCA`.
"""

from __future__ import annotations

import jax
import numpy as np
import scipy.linalg
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA, KernelPCA

import jaxla
from torchbridge import linalg as tl
from torchbridge import testing
from torchbridge.crosscheck.registry import Case, eigvecs, fields, register, subspace, values


def _gen():
    return torch.Generator().manual_seed(0)


def _decaying(rng, m, n, spectrum):
    k = len(spectrum)
    U, _ = np.linalg.qr(rng.standard_normal((m, k)))
    V, _ = np.linalg.qr(rng.standard_normal((n, k)))
    return (U * spectrum) @ V.T


# --------------------------------------------------- NumPy reference (HMT 2011)
def _np_normalize(Y, normalizer):
    if normalizer == "qr":
        return np.linalg.qr(Y)[0]
    if normalizer == "lu":
        P, L, _ = scipy.linalg.lu(Y)
        return P @ L
    return Y


def _np_range(A, omega, q, normalizer):
    for _ in range(q):
        omega = _np_normalize(A.T @ _np_normalize(A @ omega, normalizer), normalizer)
    return np.linalg.qr(A @ omega)[0]


def _np_svd_from_sketch(A, omega, rank, q=2, normalizer="qr"):
    transpose = omega.shape[0] != A.shape[1]
    M = A.T if transpose else A
    Q = _np_range(M, omega, q, normalizer)
    Ub, S, Vh = np.linalg.svd(Q.T @ M, full_matrices=False)
    U, S, Vh = (Q @ Ub)[:, :rank], S[:rank], Vh[:rank]
    if transpose:
        U, Vh = Vh.T, U.T
    signs = np.sign(U[np.abs(U).argmax(0), np.arange(rank)])
    return U * signs, S, Vh * signs[:, None]


def _truncated_svd(A, rank):
    U, S, Vh = np.linalg.svd(A, full_matrices=False)
    U, S, Vh = U[:, :rank], S[:rank], Vh[:rank]
    signs = np.sign(U[np.abs(U).argmax(0), np.arange(rank)])
    return U * signs, S, Vh * signs[:, None]


def _rows(result, other, inputs):
    """Rows (right singular vectors in Vh) compared up to sign."""
    t = lambda x: np.swapaxes(testing.to_numpy(x), -1, -2)  # noqa: E731
    return eigvecs(t(result), t(other), inputs)


# --------------------------------------------------------------- range finder
register(Case(
    name="range_finder/shared_sketch",
    make_inputs=lambda rng: (_decaying(rng, 40, 25, 0.6 ** np.arange(25)),
                             rng.standard_normal((25, 6))),
    reference=lambda A, omega: _np_range(A, omega, 2, "qr"),
    jax_fn=lambda A, omega: jaxla.range_finder(A, omega),
    torch_fn=lambda A, omega: tl.range_finder(A, omega),
    compare=subspace,
))


# ------------------------------------------------ randomized SVD, shared sketch
def _svd_case(name, shape, normalizer, power_iters, tol=None):
    m, n = shape

    def make(rng):
        A = _decaying(rng, m, n, 0.7 ** np.arange(min(m, n)))
        return A, rng.standard_normal((min(m, n), 9))

    register(Case(
        name=f"randomized_svd_from_sketch/{name}",
        make_inputs=make,
        reference=lambda A, omega: _np_svd_from_sketch(A, omega, 5, power_iters, normalizer),
        jax_fn=lambda A, omega: tuple(jaxla.randomized_svd_from_sketch(
            A, omega, 5, power_iters=power_iters, normalizer=normalizer)),
        torch_fn=lambda A, omega: tuple(tl.randomized_svd_from_sketch(
            A, omega, 5, power_iters=power_iters, normalizer=normalizer)),
        compare=fields(_0=eigvecs, _1=values, _2=_rows),
        tol=tol or {},
    ))


_svd_case("tall_qr", (40, 25), "qr", 2)
_svd_case("wide_lu", (25, 40), "lu", 3)
# No re-normalization: the sketch columns are dominated by σ₁³, so the σ₅
# direction (σ₅/σ₁ = 0.24) keeps ~2 fewer float32 digits; measured ≤ 1.7e-5.
_svd_case("tall_none", (40, 25), "none", 1, tol={"float32": 4e-5})


# --------------------------------------------- keyed functions on exact low rank
def _low_rank(rng, m=30, n=20, r=4):
    return _decaying(rng, m, n, np.array([3.0, 2.0, 1.0, 0.5])[:r])


register(Case(
    name="randomized_svd/exact_low_rank",
    make_inputs=lambda rng: (_low_rank(rng),),
    reference=lambda A: _truncated_svd(A, 4),
    jax_fn=lambda A: tuple(jaxla.randomized_svd(jax.random.key(0), A, 4)),
    torch_fn=lambda A: tuple(tl.randomized_svd(A, 4, generator=_gen())),
    compare=fields(_0=values, _1=values, _2=values),
))

register(Case(
    name="randomized_eigh/psd_low_rank",
    make_inputs=lambda rng: (lambda B: (B @ B.T,))(rng.standard_normal((30, 4))),
    reference=lambda A: tuple(x[..., -4:] for x in np.linalg.eigh(A)),
    jax_fn=lambda A: tuple(jaxla.randomized_eigh(jax.random.key(0), A, 4)),
    torch_fn=lambda A: tuple(tl.randomized_eigh(A, 4, generator=_gen())),
    compare=fields(_0=values, _1=eigvecs),
))

register(Case(
    name="randomized_eigh/rayleigh_ritz",
    make_inputs=lambda rng: (lambda B: (B @ B.T,))(rng.standard_normal((30, 4))),
    reference=lambda A: tuple(x[..., -4:] for x in np.linalg.eigh(A)),
    jax_fn=lambda A: tuple(jaxla.randomized_eigh(jax.random.key(0), A, 4,
                                                 method="rayleigh_ritz")),
    torch_fn=lambda A: tuple(tl.randomized_eigh(A, 4, method="rayleigh_ritz",
                                                generator=_gen())),
    compare=fields(_0=values, _1=eigvecs),
))


def _qlp_reconstruction(result, other, inputs):
    """Error of Q L Pᵀ against A (the reference is A itself), plus orthonormality."""
    A = inputs[0]
    Q, L, P = (testing.to_numpy(x) for x in result)
    k = L.shape[-1]
    ortho = max(np.abs(Q.T @ Q - np.eye(k)).max(), np.abs(P.T @ P - np.eye(k)).max())
    upper = np.abs(np.triu(L, 1)).max() / np.abs(L).max()
    return max(testing.relative_error(Q @ L @ P.T, A), ortho, upper)


register(Case(
    name="ru_qlp/exact_low_rank",
    make_inputs=lambda rng: (_low_rank(rng),),
    reference=lambda A: (np.linalg.qr(A)[0][:, :4], np.eye(4), np.eye(20)[:, :4]),
    jax_fn=lambda A: tuple(jaxla.ru_qlp(jax.random.key(0), A, 4)),
    torch_fn=lambda A: tuple(tl.ru_qlp(A, 4, generator=_gen())),
    compare=_qlp_reconstruction,
))


# ------------------------------------------------------------------------ PCA
def _digits(rng):
    del rng
    return (load_digits().data,)


def _sk_pca(X, k=6):
    p = PCA(n_components=k, svd_solver="full").fit(X)
    return (p.components_, p.explained_variance_, p.explained_variance_ratio_, p.mean_,
            p.singular_values_)


_PCA_COMPARE = fields(_0=values, _1=values, _2=values, _3=values, _4=values)

for _method in ("eigh", "svd"):
    register(Case(
        name=f"pca/digits_{_method}",
        make_inputs=_digits,
        reference=_sk_pca,
        jax_fn=lambda X, m=_method: tuple(jaxla.pca(X, 6, method=m))[:5],
        torch_fn=lambda X, m=_method: tuple(tl.pca(X, 6, method=m))[:5],
        compare=_PCA_COMPARE,
        # float32 Gram/SVD of 1797 rows with entries 0–16, then eigenvectors
        # with relative gaps down to ~0.1: ~eps·√N/gap; measured ≤ 3.6e-6.
        tol={"float32": 2e-5},
    ))

register(Case(
    name="pca/digits_randomized",
    make_inputs=_digits,
    reference=lambda X: _sk_pca(X, 4),
    jax_fn=lambda X: tuple(jaxla.pca(X, 4, method="randomized", key=jax.random.key(0)))[:5],
    torch_fn=lambda X: tuple(tl.pca(X, 4, method="randomized", generator=_gen()))[:5],
    compare=_PCA_COMPARE,
    # Randomized (7 LU power steps, l = 14) on a decaying, full-rank spectrum:
    # it is not the exact truncated SVD; the gap factor (σ₁₅/σ₄)^15 leaves
    # ~3e-6 in float64 (measured 2.9e-6), so both dtypes get 2e-5.
    tol={"float32": 2e-5, "float64": 2e-5},
))

register(Case(
    name="pca_transform/digits",
    make_inputs=_digits,
    reference=lambda X: PCA(n_components=6, svd_solver="full").fit(X).transform(X),
    jax_fn=lambda X: jaxla.pca_transform(jaxla.pca(X, 6), X),
    torch_fn=lambda X: tl.pca_transform(tl.pca(X, 6), X),
    tol={"float32": 2e-5},   # as pca/digits_*
))

register(Case(
    name="kernel_pca/rbf",
    make_inputs=lambda rng: (load_digits().data[:120] / 16.0,),
    reference=lambda X: KernelPCA(4, kernel="rbf", eigen_solver="dense").fit_transform(X),
    jax_fn=lambda X: jaxla.kernel_pca(X, 4),
    torch_fn=lambda X: tl.kernel_pca(X, 4),
))

register(Case(
    name="kernel_pca/poly",
    make_inputs=lambda rng: (rng.standard_normal((50, 5)),),
    reference=lambda X: KernelPCA(3, kernel="poly", eigen_solver="dense").fit_transform(X),
    jax_fn=lambda X: jaxla.kernel_pca(X, 3, kernel="poly"),
    torch_fn=lambda X: tl.kernel_pca(X, 3, kernel="poly"),
))


# ------------------------------------------------------------------------ NMF
def _nmf_fit(result, other, inputs):
    """Relative reconstruction error of W H against X (+ any negativity); `other` unused."""
    del other
    X = inputs[0]
    W, H = (testing.to_numpy(x) for x in result)
    negativity = max(0.0, -float(W.min()), -float(H.min()))
    return testing.relative_error(W @ H, X) + negativity


register(Case(
    name="nmf/exact_nonnegative",
    make_inputs=lambda rng: (np.abs(rng.standard_normal((20, 3)))
                             @ np.abs(rng.standard_normal((3, 15))),),
    reference=lambda X: (X, np.eye(15)),
    jax_fn=lambda X: jaxla.nmf(jax.random.key(0), X, 3, num_iters=1000),
    torch_fn=lambda X: tl.nmf(X, 3, num_iters=1000, generator=_gen()),
    compare=_nmf_fit,
    # Multiplicative updates converge sublinearly: after 1000 sweeps the fit
    # of an exact rank-3 non-negative product is ~1e-3 (not eps-level).
    tol={"float32": 2e-2, "float64": 2e-2},
))
