"""Tests for jaxla.randomized: range finder, randomized SVD, Nyström eigh, RU-QLP."""

from __future__ import annotations

import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.utils.extmath import randomized_svd as sk_randomized_svd

import jaxla
from torchbridge import testing

_SK_NORMALIZER = {"qr": "QR", "lu": "LU", "none": "none"}
_STATIC = ("rank", "oversample", "power_iters", "normalizer", "flip_sign", "shape")


def _jit(fn, *extra):
    """Jitted entry point (one compile per configuration keeps the suite fast)."""
    names = [n for n in _STATIC + extra if n in inspect.signature(fn).parameters]
    return jax.jit(fn, static_argnames=names)


rsvd = _jit(jaxla.randomized_svd)
rsvd_sketch = _jit(jaxla.randomized_svd_from_sketch)
reigh = _jit(jaxla.randomized_eigh, "method")
qlp = _jit(jaxla.ru_qlp)


# ------------------------------------------------------------------ helpers
def spectral_norm_estimate(E, *, num_iters=60, seed=0):
    """‖E‖₂ by the power method on EᵀE from a random start (a lower bound that converges)."""
    E = np.asarray(E, np.float64)
    v = np.random.default_rng(seed).standard_normal(E.shape[1])
    v /= np.linalg.norm(v)
    estimate = 0.0
    for _ in range(num_iters):
        w = E.T @ (E @ v)
        norm_w = np.linalg.norm(w)
        if norm_w == 0:
            return 0.0
        v = w / norm_w
        estimate = np.linalg.norm(E @ v)
    return float(estimate)


def decaying_matrix(rng, m, n, spectrum):
    """U diag(spectrum) Vᵀ with random orthonormal U, V (float64)."""
    k = len(spectrum)
    U, _ = np.linalg.qr(rng.standard_normal((m, k)))
    V, _ = np.linalg.qr(rng.standard_normal((n, k)))
    return (U * spectrum) @ V.T


def reconstruct(res):
    return np.asarray(res.U) @ np.diag(np.asarray(res.S)) @ np.asarray(res.Vh)


def test_spectral_norm_estimator_matches_svd(rng):
    for shape in ((40, 25), (25, 40)):
        E = decaying_matrix(rng, *shape, 0.7 ** np.arange(min(shape)))
        E *= 3.0
        assert spectral_norm_estimate(E) == pytest.approx(3.0, rel=1e-6)
    E = rng.standard_normal((30, 20))
    est, true = spectral_norm_estimate(E, num_iters=200), np.linalg.norm(E, 2)
    assert est <= true * (1 + 1e-12)
    assert est == pytest.approx(true, rel=1e-3)
    assert spectral_norm_estimate(np.zeros((4, 3))) == 0.0


# ----------------------------------------------------------------- accuracy
@pytest.mark.parametrize("shape,decay", [((300, 120), "exponential"),
                                         ((120, 300), "polynomial")])
def test_spectral_error_within_1_1_sigma_and_not_worse_than_sklearn(x64, rng, shape, decay):
    k, p, q = 10, 10, 2
    i = np.arange(min(shape))
    s = np.exp(-i / 6.0) if decay == "exponential" else (1.0 + i) ** -2.0
    A = decaying_matrix(rng, *shape, s)
    ours, theirs = [], []
    for seed in range(3):
        res = rsvd(jax.random.key(seed), A, k, oversample=p, power_iters=q)
        ours.append(spectral_norm_estimate(A - reconstruct(res)))
        U, S, Vt = sk_randomized_svd(A, k, n_oversamples=p, n_iter=q, random_state=seed)
        theirs.append(spectral_norm_estimate(A - (U * S) @ Vt))
    assert max(ours) <= 1.1 * s[k], (ours, s[k])
    assert np.mean(ours) <= np.mean(theirs) * 1.02, (ours, theirs)
    # Identical parameters *and* identical sketch: scikit-learn's own Ω.
    side = min(shape)
    omega = np.random.RandomState(7).normal(size=(side, k + p))
    res = rsvd_sketch(A, omega, k, power_iters=q, normalizer="none")
    U, S, Vt = sk_randomized_svd(A, k, n_oversamples=p, n_iter=q, random_state=7)
    assert spectral_norm_estimate(A - reconstruct(res)) <= (
        spectral_norm_estimate(A - (U * S) @ Vt) * (1 + 1e-8))


@pytest.mark.parametrize("shape,normalizer", [((50, 30), "qr"), ((30, 50), "lu"),
                                              ((50, 30), "none")])
def test_same_sketch_reproduces_sklearn_exactly(x64, rng, shape, normalizer):
    """Given scikit-learn's Ω, U, S, Vh equal scikit-learn's, signs included."""
    A = decaying_matrix(rng, *shape, 0.8 ** np.arange(min(shape)))
    k, p, q = 6, 5, 3
    omega = np.random.RandomState(3).normal(size=(min(shape), k + p))
    res = rsvd_sketch(A, omega, k, power_iters=q, normalizer=normalizer)
    U, S, Vt = sk_randomized_svd(A, k, n_oversamples=p, n_iter=q, random_state=3,
                                 power_iteration_normalizer=_SK_NORMALIZER[normalizer])
    testing.assert_close(res.S, S, rtol=1e-10, atol=1e-12)
    testing.assert_close(res.U, U, rtol=1e-7, atol=1e-8)
    testing.assert_close(res.Vh, Vt, rtol=1e-7, atol=1e-8)


def test_notes_example_rank_two_truncation_reconstructs():
    A = jnp.array([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]])
    res = jaxla.randomized_svd(jax.random.key(0), A, 2)      # eager (non-jit) path
    assert res.U.shape == (3, 2) and res.S.shape == (2,) and res.Vh.shape == (2, 3)
    testing.assert_scaled_residual(A, reconstruct(res))
    testing.assert_close(res.S, np.linalg.svd(np.asarray(A), compute_uv=False)[:2])


def test_sign_convention_and_orthonormality(rng):
    A = decaying_matrix(rng, 40, 25, 0.7 ** np.arange(25)).astype(np.float32)
    res = rsvd(jax.random.key(1), A, 5)
    U = np.asarray(res.U)
    assert np.all(U[np.abs(U).argmax(0), np.arange(5)] > 0)
    assert testing.orthogonality_residual(res.U) < 30
    assert testing.orthogonality_residual(np.asarray(res.Vh).T) < 30
    assert np.all(np.diff(np.asarray(res.S)) <= 0)
    flipped = rsvd(jax.random.key(1), A, 5, flip_sign=False)
    testing.assert_eigvecs_close(flipped.U, res.U, atol=1e-5)


def test_defaults_follow_sklearn(rng):
    """power_iters None → 7 (rank < 0.1 min) or 4; "auto" → LU for q > 2; l = k + 10."""
    from jaxla import randomized

    assert randomized._resolve_power_iters(None, 5, 120, 80) == 7
    assert randomized._resolve_power_iters(None, 8, 120, 80) == 4
    assert randomized._resolve_power_iters(3, 5, 120, 80) == 3
    assert [randomized._resolve_normalizer("auto", q) for q in (0, 2, 3)] == ["none", "none", "lu"]
    A = jnp.asarray(decaying_matrix(rng, 120, 80, 0.9 ** np.arange(80)), jnp.float32)
    key = jax.random.key(5)
    omega = jax.random.normal(key, (80, 15), jnp.float32)
    want = rsvd_sketch(A, omega, 5, power_iters=7, normalizer="lu")
    got = rsvd(key, A, 5)
    testing.assert_close(got.S, want.S)
    testing.assert_close(got.U, want.U, atol=1e-5)


# ------------------------------------------------------------- range finder
def test_range_finder_captures_low_rank_range(rng):
    A = decaying_matrix(rng, 60, 40, np.array([5.0, 3, 2, 1, 0.5])).astype(np.float32)
    omega = rng.standard_normal((40, 8)).astype(np.float32)
    finder = jax.jit(jaxla.range_finder, static_argnames=("power_iters", "normalizer"))
    for normalizer in ("qr", "lu", "none"):
        Q = finder(A, omega, normalizer=normalizer)
        assert Q.shape == (60, 8)
        assert testing.orthogonality_residual(Q) < 30
        Qn = np.asarray(Q, np.float64)
        # Without re-normalization the σ₅ direction is (σ₅/σ₁)⁵ ≈ 1e-5 of the
        # sketch before the final QR, so float32 keeps only ~2 of its digits.
        bound = 1e-3 if normalizer == "none" else 1e-5
        assert np.linalg.norm(A - Qn @ (Qn.T @ A)) <= bound * np.linalg.norm(A)
    testing.assert_close(finder(A, omega), finder(A, omega), rtol=0, atol=0)


def test_range_finder_callable_and_batch(x64, rng):
    A = rng.standard_normal((3, 20, 12))
    omega = rng.standard_normal((12, 5))
    Q = jaxla.range_finder(A, omega, power_iters=1)      # eager; Ω broadcasts over the batch
    assert Q.shape == (3, 20, 5)
    finder = jax.jit(functools.partial(jaxla.range_finder, power_iters=1))
    for b in range(3):
        op = jax.tree_util.Partial(lambda M, x: M @ x, jnp.asarray(A[b]))
        testing.assert_close(finder(op, omega), Q[b], atol=1e-10)


# ------------------------------------------- Cholesky-QR normalizers (private)
def _rows(rng, scales, N=400):
    """(l, N) rows with singular values `scales` (float32)."""
    l = len(scales)
    U, _ = np.linalg.qr(rng.standard_normal((l, l)))
    V, _ = np.linalg.qr(rng.standard_normal((N, l)))
    return ((U * scales) @ V.T).astype(np.float32)


def _span_residual(Y, Q):
    """‖Y − proj_rows(Q) Y‖ / ‖Y‖ in float64 (Q need not be orthonormal)."""
    Y, Q = np.asarray(Y, np.float64), np.asarray(Q, np.float64)
    coef = np.linalg.lstsq(Q.T, Y.T, rcond=None)[0]
    return np.linalg.norm(Y.T - Q.T @ coef) / np.linalg.norm(Y)


def test_cholesky_qr_well_conditioned_rows(rng):
    from jaxla import _cholesky_qr as cq

    Y = _rows(rng, np.linspace(1.0, 0.1, 12))
    Q, R, ok = jax.jit(cq.orthonormal_rows)(Y)
    assert bool(ok)
    assert testing.orthogonality_residual(np.asarray(Q).T) < 30
    testing.assert_close(np.asarray(R).T @ np.asarray(Q), Y, atol=1e-5)
    np.testing.assert_array_equal(np.triu(np.asarray(R)), np.asarray(R))
    # Scaling by powers far outside float32's Gram range changes R only.
    for scale in (1e25, 1e-25):
        Qs, Rs, oks = jax.jit(cq.orthonormal_rows)(Y * np.float32(scale))
        assert bool(oks)
        testing.assert_close(Qs, Q, atol=1e-5)
        testing.assert_close(np.asarray(Rs) / scale, R, rtol=1e-4, atol=1e-6)


def test_cholesky_qr_ill_conditioned_and_rank_deficient_rows(rng):
    from jaxla import _cholesky_qr as cq

    # κ = 1e6 ≫ 1/√eps: one Cholesky-QR pass would leave a badly conditioned basis.
    Y = _rows(rng, np.logspace(0, -6, 10))
    W = np.asarray(jax.jit(cq.well_conditioned_rows)(Y), np.float64)
    s = np.linalg.svd(W, compute_uv=False)
    assert s[0] / s[-1] < 10, s
    assert _span_residual(Y, W) < 1e-6
    Q = jax.jit(cq.orthonormalize_rows)(Y)
    assert testing.orthogonality_residual(np.asarray(Q).T) < 30
    assert _span_residual(Y, Q) < 1e-6
    # Rank 4 of 8 rows: Cholesky QR cannot complete the basis; Householder does.
    Y = (rng.standard_normal((8, 4)) @ rng.standard_normal((4, 300))).astype(np.float32)
    assert not bool(jax.jit(cq.orthonormal_rows)(Y)[2])
    Q = jax.jit(cq.orthonormalize_rows)(Y)
    assert testing.orthogonality_residual(np.asarray(Q).T) < 30
    assert _span_residual(Y, Q) < 1e-6
    W = jax.jit(cq.well_conditioned_rows)(Y)       # no NaN, same span
    assert np.all(np.isfinite(np.asarray(W)))
    assert _span_residual(Y, W) < 1e-5
    # Zero blocks: no NaN from the shifts. A NaN propagates (through the Householder
    # fallback, into the rows LAPACK's QR reaches, as before).
    assert np.all(np.asarray(jax.jit(cq.well_conditioned_rows)(np.zeros((3, 9)))) == 0)
    Y[2, 5] = np.nan
    assert np.all(np.isnan(np.asarray(jax.jit(cq.well_conditioned_rows)(Y))))
    assert np.any(np.isnan(np.asarray(jax.jit(cq.orthonormalize_rows)(Y))))


@pytest.mark.parametrize("normalizer", ["lu", "qr", "none"])
def test_rank_deficient_matrix_falls_back_and_stays_orthonormal(rng, normalizer):
    """rank(A) = 3 < k = 5 < l = 9: the zero singular triplets still get orthonormal U, V."""
    A = decaying_matrix(rng, 70, 40, np.array([3.0, 2.0, 1.0])).astype(np.float32)
    res = rsvd(jax.random.key(4), A, 5, oversample=4, power_iters=3, normalizer=normalizer)
    testing.assert_close(res.S[:3], [3.0, 2.0, 1.0], rtol=1e-5)
    assert np.all(np.abs(np.asarray(res.S[3:])) < 1e-5)
    assert testing.orthogonality_residual(res.U) < 30
    assert testing.orthogonality_residual(np.asarray(res.Vh).T) < 30
    testing.assert_scaled_residual(A, reconstruct(res), bound=100)
    # In a batch, one rank-deficient matrix sends the whole batch to the fallback.
    full = decaying_matrix(rng, 70, 40, 0.8 ** np.arange(40)).astype(np.float32)
    omega = rng.standard_normal((40, 9)).astype(np.float32)
    both = rsvd_sketch(np.stack([A, full]), omega, 5, power_iters=3, normalizer=normalizer)
    for b, M in enumerate((A, full)):
        one = rsvd_sketch(M, omega, 5, power_iters=3, normalizer=normalizer)
        testing.assert_close(both.S[b], one.S, rtol=1e-5, atol=1e-5)
        testing.assert_close(np.asarray(both.U[b]) * np.asarray(both.S[b]),
                             np.asarray(one.U) * np.asarray(one.S), atol=1e-4)


def test_large_matrix_product_kernel_agrees(rng, monkeypatch):
    """A with ≥ 2²¹ entries takes the Eigen form of Y·A on CPU; same result as the plain one."""
    from jaxla import randomized

    m, n, k = 2048, 1024, 10
    s = np.exp(-np.arange(n) / 8.0)
    A = decaying_matrix(rng, m, n, s[:64]).astype(np.float32)
    omega = rng.standard_normal((n, k + 6)).astype(np.float32)
    fast = randomized_svd_from_sketch_fresh(A, omega, k)
    monkeypatch.setattr(randomized, "_EIGEN_MIN_SIZE", m * n + 1)
    plain = randomized_svd_from_sketch_fresh(A, omega, k)
    for a, b in zip(fast, plain):
        testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    err = spectral_norm_estimate(A.astype(np.float64) - reconstruct(fast))
    assert err <= 1.1 * s[k], (err, s[k])


def randomized_svd_from_sketch_fresh(A, omega, k):
    """A fresh jit, so monkeypatched module constants take effect."""
    return jax.jit(functools.partial(jaxla.randomized_svd_from_sketch, rank=k))(A, omega)


# ------------------------------------------------------- operators, batches
def test_callable_matches_dense(x64, rng):
    shape = (24, 40)                      # wide: exercises the transposed (co-range) side
    A = decaying_matrix(rng, *shape, 0.8 ** np.arange(min(shape)))
    op = jax.tree_util.Partial(lambda M, x: M @ x, jnp.asarray(A))
    dense = rsvd(jax.random.key(2), A, 5, power_iters=3)
    matfree = rsvd(jax.random.key(2), op, 5, power_iters=3, shape=shape)
    for a, b in zip(matfree, dense):
        testing.assert_close(a, b, atol=1e-9)
    omega = rng.standard_normal((min(shape), 9))
    for a, b in zip(rsvd_sketch(op, omega, 5, shape=shape),
                    rsvd_sketch(A, omega, 5)):
        testing.assert_close(a, b, atol=1e-9)


def test_batched_matches_per_matrix(rng):
    A = rng.standard_normal((3, 30, 18)).astype(np.float32)
    omega = rng.standard_normal((3, 18, 9)).astype(np.float32)
    res = rsvd_sketch(A, omega, 4)
    assert res.U.shape == (3, 30, 4) and res.S.shape == (3, 4) and res.Vh.shape == (3, 4, 18)
    one = rsvd_sketch(A[2], omega[2], 4)
    for a, b in zip(res, one):
        testing.assert_close(a[2], b, atol=1e-5)
    shared = rsvd_sketch(A[1], omega, 4)                      # one A, a batch of sketches
    for b in range(3):
        for a, c in zip(shared, rsvd_sketch(A[1], omega[b], 4)):
            testing.assert_close(a[b], c, atol=1e-5)
    keyed = rsvd(jax.random.key(0), A[:, None], 4)          # two batch dims, own sketches
    assert keyed.Vh.shape == (3, 1, 4, 18)
    exact = np.linalg.svd(A.astype(np.float64), compute_uv=False)[:, :4]
    S = np.asarray(keyed.S[:, 0], np.float64)
    assert np.all(S <= exact * (1 + 1e-5)) and np.all(S >= 0.9 * exact)   # Ritz values: below σ


# --------------------------------------------------------------- transforms
def test_jit_vmap_grad(x64, rng):
    s = np.array([4.0, 2.0, 1.0, 0.5])
    A = decaying_matrix(rng, 20, 15, s)                     # exactly rank 4
    key = jax.random.key(0)
    f = jax.jit(functools.partial(jaxla.randomized_svd, rank=4, oversample=0, power_iters=2))
    res = f(key, A)
    testing.assert_close(res.S, s, atol=1e-12)
    vm = jax.vmap(f, in_axes=(None, 0))(key, np.stack([A, 2 * A]))
    testing.assert_close(vm.S[1], 2 * res.S, atol=1e-12)
    testing.assert_close(vm.U[0], res.U, atol=1e-12)
    # d(Σσᵢ)/dA = Σ uᵢvᵢᵀ: exact when the sketch (no oversampling) spans the range.
    g = jax.jit(jax.grad(lambda a: jnp.sum(f(key, a).S)))(jnp.asarray(A))
    testing.assert_close(g, np.asarray(res.U) @ np.asarray(res.Vh), atol=1e-8)
    for normalizer in ("lu", "qr"):          # through the Cholesky-QR normalizers too
        h = jax.jit(functools.partial(jaxla.randomized_svd, rank=4, oversample=0,
                                      power_iters=3, normalizer=normalizer))
        g = jax.grad(lambda a, h=h: jnp.sum(h(key, a).S))(jnp.asarray(A))
        testing.assert_close(g, np.asarray(res.U) @ np.asarray(res.Vh), atol=1e-8)


# ------------------------------------------------------------------- errors
def test_bad_inputs_raise():
    A = jnp.ones((6, 4))
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="`rank` must be <= min"):
        jaxla.randomized_svd(key, A, 5)
    with pytest.raises(TypeError, match="`rank` must be a static Python int"):
        jaxla.randomized_svd(key, A, 2.0)
    with pytest.raises(ValueError, match="`normalizer` must be one of"):
        jaxla.randomized_svd(key, A, 2, normalizer="cholesky")
    with pytest.raises(TypeError, match="`key` must be a jax.random key"):
        jaxla.randomized_svd(0, A, 2)
    with pytest.raises(ValueError, match="`sketch` must have n = 4 rows"):
        jaxla.randomized_svd_from_sketch(A, jnp.ones((5, 3)), 2)
    with pytest.raises(ValueError, match="sketch width"):
        jaxla.randomized_svd_from_sketch(A, jnp.ones((4, 2)), 3)
    with pytest.raises(ValueError, match="`shape` must be given"):
        jaxla.randomized_svd(key, lambda x: x, 2)
    with pytest.raises(ValueError, match="`A` maps"):
        jaxla.randomized_svd(key, lambda x: x, 2, shape=(5, 4))
    with pytest.raises(ValueError, match="`sketch` has shape"):
        jaxla.range_finder(A, jnp.ones((6, 2)))
    with pytest.raises(ValueError, match="at most min"):
        jaxla.range_finder(A, jnp.ones((4, 5)))
    with pytest.raises(ValueError, match="at most min"):
        jaxla.randomized_svd_from_sketch(A.T, jnp.ones((4, 5)), 2)
    with pytest.raises(ValueError, match="do not broadcast"):
        jaxla.randomized_svd_from_sketch(jnp.ones((2, 6, 4)), jnp.ones((3, 4, 3)), 2)
    with pytest.raises(ValueError, match="`power_iters` must be >= 0"):
        jaxla.range_finder(A, jnp.ones((4, 2)), power_iters=-1)
    with pytest.raises(TypeError, match="`A` must be real"):
        jaxla.randomized_svd(key, jnp.ones((6, 4), jnp.complex64), 2)


# ---------------------------------------------------------- randomized_eigh
@pytest.mark.parametrize("method", ["nystrom", "rayleigh_ritz"])
def test_randomized_eigh_psd(x64, rng, method):
    n, k = 80, 6
    lam = np.exp(-np.arange(n) / 3.0)
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (V * lam) @ V.T
    res = reigh(jax.random.key(0), A, k, method=method)
    assert res.eigenvalues.shape == (k,) and res.eigenvectors.shape == (n, k)
    testing.assert_close(res.eigenvalues, lam[:k][::-1], rtol=1e-6, atol=1e-9)
    testing.assert_eigvecs_close(res.eigenvectors, V[:, :k][:, ::-1], atol=1e-4)
    op = jax.tree_util.Partial(lambda M, x: M @ x, jnp.asarray(A))
    matfree = reigh(jax.random.key(0), op, k, method=method, shape=(n, n))
    testing.assert_close(matfree.eigenvalues, res.eigenvalues, atol=1e-12)


def test_randomized_eigh_low_rank_exact_and_batch(rng):
    B = rng.standard_normal((2, 24, 4))
    A = (B @ np.swapaxes(B, -1, -2)).astype(np.float32)      # PSD, rank 4
    res = reigh(jax.random.key(3), A, 4)
    assert res.eigenvalues.shape == (2, 4)
    for b in range(2):
        want = np.linalg.eigvalsh(A[b].astype(np.float64))[-4:]
        testing.assert_close(res.eigenvalues[b], want, rtol=1e-4, atol=1e-4)
        V = np.asarray(res.eigenvectors[b], np.float64)
        testing.assert_scaled_residual(A[b], (V * np.asarray(res.eigenvalues[b])) @ V.T,
                                       bound=100)


def test_randomized_eigh_not_psd_gives_nan_and_bad_args():
    A = -jnp.eye(12)
    res = reigh(jax.random.key(0), A, 3)
    assert bool(jnp.all(jnp.isnan(res.eigenvalues)))
    with pytest.raises(ValueError, match="`method` must be one of"):
        reigh(jax.random.key(0), A, 3, method="lanczos")
    with pytest.raises(ValueError, match="square"):
        reigh(jax.random.key(0), jnp.ones((5, 4)), 3)


# ------------------------------------------------------------------ ru_qlp
def test_ru_qlp_structure_and_accuracy(x64, rng):
    m, n, k = 150, 90, 10
    s = np.exp(-np.arange(n) / 4.0)
    A = decaying_matrix(rng, m, n, s)
    Q, L, P = qlp(jax.random.key(0), A, k, power_iters=2)
    assert Q.shape == (m, k) and L.shape == (k, k) and P.shape == (n, k)
    assert testing.orthogonality_residual(Q) < 30
    assert testing.orthogonality_residual(P) < 30
    testing.assert_close(np.triu(np.asarray(L), 1), np.zeros((k, k)), atol=1e-14)
    err = spectral_norm_estimate(A - np.asarray(Q) @ np.asarray(L) @ np.asarray(P).T)
    assert err <= 2.0 * s[k], (err, s[k])
    lvals = np.abs(np.diag(np.asarray(L)))
    assert np.all(lvals / s[:k] > 0.5) and np.all(lvals / s[:k] < 1.5), lvals / s[:k]


def test_ru_qlp_exact_on_low_rank_callable_jit(rng):
    A = (rng.standard_normal((40, 5)) @ rng.standard_normal((5, 25))).astype(np.float32)
    Q, L, P = jax.jit(functools.partial(jaxla.ru_qlp, rank=5))(jax.random.key(1), A)
    testing.assert_scaled_residual(A, np.asarray(Q) @ np.asarray(L) @ np.asarray(P).T,
                                   bound=100)
    op = jax.tree_util.Partial(lambda M, x: M @ x, jnp.asarray(A))
    Qc, Lc, Pc = qlp(jax.random.key(1), op, 5, shape=(40, 25))
    testing.assert_close(Lc, L, atol=1e-4)
    batch = qlp(jax.random.key(1), np.stack([A, A]), 5)
    assert batch.L.shape == (2, 5, 5)
