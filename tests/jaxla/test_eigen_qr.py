"""Tests for jaxla.qr_algorithm (and its private _tridiagonal_qr): eigh_qr, eigvals_qr, schur."""

from __future__ import annotations

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest

import jaxla
from torchbridge import testing


def _wilkinson(m):
    return (np.diag(np.abs(np.arange(-m, m + 1)).astype(float))
            + np.diag(np.ones(2 * m), 1) + np.diag(np.ones(2 * m), -1))


_GRADED = 10.0 ** -np.arange(0, 16, 2.0)


def _check_eigh(A, w, V, dtype):
    A = np.asarray(A, np.float64)
    w, V = np.asarray(w, np.float64), np.asarray(V, np.float64)
    assert np.all(np.diff(w) >= 0), "eigenvalues must be ascending"
    testing.assert_scaled_residual(A, (V * w) @ V.T, dtype=dtype)
    assert testing.orthogonality_residual(V, dtype) < 30
    testing.assert_close(w, np.linalg.eigvalsh(A),
                         atol=30 * A.shape[-1] * testing.eps(dtype) * np.abs(A).max(), rtol=0)


# ----------------------------------------------------------------- eigh_qr
@pytest.mark.parametrize("jit", [False, True])
def test_eigh_qr_random_float32(rng, jit):
    X = rng.standard_normal((8, 8)).astype(np.float32)
    A = X + X.T
    fn = jax.jit(jaxla.eigh_qr) if jit else jaxla.eigh_qr
    w, V = fn(A)
    assert w.dtype == jnp.float32
    _check_eigh(A, w, V, "float32")


def test_eigh_qr_worked_example(x64):
    w, V = jaxla.eigh_qr(np.array([[2.0, 1.0], [1.0, 2.0]]))
    testing.assert_close(w, [1.0, 3.0])
    testing.assert_eigvecs_close(V, np.array([[1.0, 1.0], [-1.0, 1.0]]) / np.sqrt(2))


def test_eigh_qr_wilkinson_and_one_by_one(x64):
    """W21+: its top eigenvalue pairs agree to ~1e-14 (deflation must still work)."""
    W = _wilkinson(10)
    w, V = jaxla.eigh_qr(W)
    _check_eigh(W, w, V, "float64")
    testing.assert_close(w[-1], 10.746194182903393, rtol=1e-14)
    w, V = jaxla.eigh_qr(np.array([[-7.5]]))
    testing.assert_close(w, [-7.5])
    testing.assert_close(V, [[1.0]])


def test_eigh_qr_hard_cases(x64, rng):
    """One batch of 8x8 hard cases (one compilation)."""
    Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    cases = {
        "clustered": (Q * np.array([1, 1 + 1e-10, 1 + 2e-10, 2, 2, 2, -3, 1e-12])) @ Q.T,
        "diagonal": np.diag([3.0, -1.0, 2.0, 2.0, 0.0, 5.0, -1.0, 0.5]),
        "zero": np.zeros((8, 8)),
        "graded": np.diag(10.0 ** -np.arange(0, 16, 2.0))
        + np.diag(10.0 ** -np.arange(1, 15, 2.0), 1) + np.diag(10.0 ** -np.arange(1, 15, 2.0), -1),
        "repeated": np.eye(8) + np.ones((8, 8)),
        "zero_diagonal": np.diag(np.ones(7), 1) + np.diag(np.ones(7), -1),
        "rank_one": np.outer(np.arange(8.0), np.arange(8.0)),
        "graded_dominant": np.diag(_GRADED) + 1e-2 * np.sqrt(np.outer(_GRADED, _GRADED))
        * (np.eye(8, k=1) + np.eye(8, k=-1)),
    }
    w, V = jaxla.eigh_qr(np.stack(list(cases.values())))
    for i, (name, A) in enumerate(cases.items()):
        try:
            _check_eigh(A, w[i], V[i], "float64")
        except AssertionError as err:
            raise AssertionError(f"case {name}: {err}") from err
    testing.assert_close(w[2], np.zeros(8))
    testing.assert_close(w[4], [1.0] * 7 + [9.0])
    # Graded, diagonally dominant: even the 1e-14 eigenvalue keeps relative accuracy.
    testing.assert_close(w[-1], np.linalg.eigvalsh(cases["graded_dominant"]), rtol=1e-10, atol=0)


def test_eigh_qr_batch_and_vmap(rng):
    X = rng.standard_normal((3, 8, 8)).astype(np.float32)
    A = X + np.swapaxes(X, -1, -2)
    w, V = jaxla.eigh_qr(A)
    assert w.shape == (3, 8) and V.shape == (3, 8, 8)
    wv, _ = jax.vmap(jaxla.eigh_qr)(A)
    testing.assert_close(w, wv)
    testing.assert_close(w, np.linalg.eigvalsh(A.astype(np.float64)), atol=1e-5)


def test_eigh_qr_nan_and_nonconvergence():
    X = np.random.default_rng(0).standard_normal((3, 8, 8)).astype(np.float32)
    A = X + np.swapaxes(X, -1, -2)
    A[0, 3, 4] = np.nan
    w, V = jaxla.eigh_qr(A)  # same shape as the batch test: no new compilation
    assert np.all(np.isnan(np.asarray(w[0]))) and np.all(np.isnan(np.asarray(V[0])))
    assert np.all(np.isfinite(np.asarray(w[1:])))
    w, _ = jaxla.eigh_qr(A[1:], max_iters=1)  # one sweep cannot diagonalize
    assert np.all(np.isnan(np.asarray(w)))


def test_eigh_qr_gradient_matches_jnp_and_finite_differences(x64, rng):
    X = rng.standard_normal((5, 5))
    A = X + X.T
    E = rng.standard_normal((5, 5))
    E = E + E.T

    def f(a, eigh):
        w, V = eigh(a)
        return w[-1] + jnp.sum(V[:, 0] ** 4)  # sign-invariant in the vectors

    g = jax.grad(f)(jnp.asarray(A), jaxla.eigh_qr)
    testing.assert_close(g, jax.grad(f)(jnp.asarray(A), jnp.linalg.eigh), atol=1e-10)
    h = 1e-6
    fd = (f(A + h * E, jaxla.eigh_qr) - f(A - h * E, jaxla.eigh_qr)) / (2 * h)
    testing.assert_close(jnp.sum(g * E), fd, rtol=1e-6)


def test_eigh_qr_large_batch_of_hard_cases(x64, rng):
    """More than 8 matrices take the batch-minor path (scan-filled shifts, batch-minor
    W); n = 64 gives several panels, reduction phases and cache groups (with padding)."""
    n = 64
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    X = rng.standard_normal((n, n))
    g = 10.0 ** -np.linspace(0, 15, n)
    half = n // 2
    cases = [
        X + X.T,
        (Q * np.concatenate([[1, 1 + 1e-10, 1 + 2e-10], np.full(n - 5, 2.0), [-3, 1e-12]])) @ Q.T,
        np.diag(g) + 1e-2 * np.sqrt(np.outer(g, g)) * (np.eye(n, k=1) + np.eye(n, k=-1)),
        np.eye(n) + np.ones((n, n)),
        np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1),
        # splits into blocks in the middle: every block gets its own shift
        np.block([[X[:half, :half] + X[:half, :half].T, np.zeros((half, half))],
                  [np.zeros((half, half)), np.diag(np.arange(half, dtype=float))]]),
        np.zeros((n, n)),
        1e-30 * (X + X.T),
    ]
    As = np.stack(cases + [rng.standard_normal((n, n)) for _ in range(12)])
    As[len(cases):] += np.swapaxes(As[len(cases):], -1, -2)
    w, V = jaxla.eigh_qr(As)
    for i, A in enumerate(As):
        try:
            _check_eigh(A, w[i], V[i], "float64")
        except AssertionError as err:
            raise AssertionError(f"matrix {i}: {err}") from err
    testing.assert_close(w[2], np.linalg.eigvalsh(cases[2]), rtol=1e-10, atol=0)


def test_eigh_qr_single_larger_matrices(rng):
    """One matrix: gathered shifts, two wavefront layers per step (row stencil),
    sweeps over shrinking static windows; odd n and a block-diagonal split."""
    for n in (101, 96):
        X = rng.standard_normal((n, n)).astype(np.float32)
        A = X + X.T
        if n == 96:
            A[:40, 40:] = A[40:, :40] = 0
        w, V = jaxla.eigh_qr(A)
        _check_eigh(A, w, V, "float32")


def test_eigh_qr_large_batch_nan_and_nonconvergence():
    X = np.random.default_rng(1).standard_normal((12, 8, 8)).astype(np.float32)
    A = X + np.swapaxes(X, -1, -2)
    A[3, 0, 0] = np.inf
    w, V = jaxla.eigh_qr(A)
    bad = np.zeros(12, bool)
    bad[3] = True
    assert np.all(np.isnan(np.asarray(w)[bad])) and np.all(np.isnan(np.asarray(V)[bad]))
    assert np.all(np.isfinite(np.asarray(w)[~bad]))
    _check_eigh(A[5], w[5], V[5], "float32")
    w, _ = jaxla.eigh_qr(A, max_iters=1)
    assert np.all(np.isnan(np.asarray(w)))


@pytest.mark.parametrize("batch_minor", [False, True])
def test_apply_sweeps_matches_sequential_rotations(rng, batch_minor):
    """The wavefront (and its two-layer stencil) applies the rotations of S sweeps
    exactly in sweep order: compare with applying them one by one."""
    from jaxla import _tridiagonal_qr as qa

    S, n, B, m = 3, 11, 2, 5
    theta = rng.uniform(-3, 3, (S, n, B))
    theta[1, :4] = 0  # identity stretches, as for deflated positions
    theta[2, 7:] = np.pi  # c = -1, s = 0: not the identity
    theta[:, n - 1] = 0  # position n-1 has no partner row
    c, s = np.cos(theta), np.sin(theta)
    W = rng.standard_normal((n, B, m))
    expected = W.copy()
    for j in range(S):
        for k in range(n - 1):
            r0, r1 = expected[k].copy(), expected[k + 1].copy()
            ck, sk = c[j, k][:, None], s[j, k][:, None]
            expected[k], expected[k + 1] = ck * r0 + sk * r1, ck * r1 - sk * r0
    rows = np.transpose(W, (0, 2, 1)) if batch_minor else W
    padded = np.concatenate([np.zeros((2 * S,) + rows.shape[1:]), rows,
                             np.zeros((2 * S + 2,) + rows.shape[1:])])
    out = qa._apply_sweeps(jnp.asarray(padded, jnp.float32), jnp.asarray(c, jnp.float32),
                           jnp.asarray(s, jnp.float32), batch_minor)
    out = np.asarray(out)[2 * S:2 * S + n]
    if batch_minor:
        out = np.transpose(out, (0, 2, 1))
    testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_eigh_qr_batched_gradient_under_jit_and_vmap(rng):
    """The JVP on a batch inside jit (where XLA may recompute the eigenvalues in
    two fusions), and vmap mapped onto the native batch."""
    X = rng.standard_normal((4, 32, 32)).astype(np.float32)
    A = jnp.asarray(X + np.swapaxes(X, -1, -2))

    def loss(a, eigh):
        w, V = eigh(a)
        return jnp.sum(w[..., -1]) + jnp.sum(V ** 4)  # sign-invariant in the vectors

    expected = jax.grad(loss)(A, jnp.linalg.eigh)
    testing.assert_close(jax.jit(jax.grad(loss), static_argnums=1)(A, jaxla.eigh_qr),
                         expected, atol=1e-4, rtol=0)
    per_matrix = jax.jit(jax.vmap(jax.grad(lambda a: loss(a, jaxla.eigh_qr))))(A)
    testing.assert_close(per_matrix, expected, atol=1e-4, rtol=0)
    w, V = jax.jit(jax.vmap(jax.vmap(jaxla.eigh_qr)))(A.reshape(2, 2, 32, 32))
    wb, Vb = jax.jit(jaxla.eigh_qr)(A)
    np.testing.assert_array_equal(np.asarray(w).reshape(4, 32), np.asarray(wb))
    np.testing.assert_array_equal(np.asarray(V).reshape(4, 32, 32), np.asarray(Vb))


def _count_eqns(jaxpr) -> int:
    total = 0
    for eqn in jaxpr.eqns:
        total += 1
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            total += _count_eqns(sub)
    return total


def test_eigh_qr_program_size_independent_of_n():
    """No Python loop over n: the traced program has the same size at n = 16 and 256."""
    sizes = [_count_eqns(jax.make_jaxpr(jaxla.eigh_qr)(jnp.eye(n)).jaxpr) for n in (16, 256)]
    assert sizes[0] == sizes[1], sizes
    sizes = [_count_eqns(jax.make_jaxpr(jaxla.schur)(jnp.eye(n)).jaxpr) for n in (16, 256)]
    assert sizes[0] == sizes[1], sizes


# --------------------------------------------------------- eigvals_qr / schur
def _same_spectrum(actual, expected, tol):
    actual = np.sort_complex(np.round(np.asarray(actual), 12))
    expected = np.sort_complex(np.round(np.asarray(expected), 12))
    testing.assert_close(actual, expected, atol=tol, rtol=0)


@pytest.mark.parametrize("A,expected", [
    ([[4.0, 2.0], [1.0, 3.0]], [5.0, 2.0]),
    ([[3.0, 1.0], [0.0, 2.0]], [3.0, 2.0]),
    ([[0.0, -1.0], [1.0, 0.0]], [1j, -1j]),
    ([[0.0, 1.0], [0.0, 0.0]], [0.0, 0.0]),
    ([[2.0, 1.0], [1.0, 2.0]], [3.0, 1.0]),
])
def test_eigvals_worked_examples(x64, A, expected):
    ev = jaxla.eigvals_qr(np.array(A))
    assert ev.dtype == jnp.complex128
    _same_spectrum(ev, np.array(expected, complex), 1e-12)


def test_eigvals_random_rotation_and_permutation(rng):
    X = rng.standard_normal((10, 10)).astype(np.float32)
    ev = jax.jit(jaxla.eigvals_qr)(X)
    assert ev.dtype == jnp.complex64
    ref = np.linalg.eigvals(X.astype(np.float64))
    testing.assert_close(np.sort(np.abs(ev)), np.sort(np.abs(ref)), atol=1e-4)
    _same_spectrum(np.round(ev, 4), np.round(ref, 4), 2e-4)
    # cyclic permutation: all |λ| = 1, the unshifted iteration would stall;
    # exceptional shifts break the cycle.
    P = np.roll(np.eye(10, dtype=np.float32), 1, axis=0)
    ev = jaxla.eigvals_qr(P)
    _same_spectrum(np.round(ev, 4), np.round(np.exp(2j * np.pi * np.arange(10) / 10), 4), 2e-4)


def test_schur_form(x64, rng):
    A = rng.standard_normal((3, 9, 9))
    T, Z = jax.jit(jaxla.schur)(A)
    T, Z = np.asarray(T), np.asarray(Z)
    testing.assert_scaled_residual(A, Z @ T @ np.swapaxes(Z, -1, -2))
    assert testing.orthogonality_residual(Z) < 30
    assert np.all(np.tril(T, -2) == 0)
    sub = np.diagonal(T, -1, axis1=-2, axis2=-1)
    assert not np.any((sub[..., :-1] != 0) & (sub[..., 1:] != 0)), "blocks are at most 2x2"
    for t in T:  # every remaining 2x2 block carries a complex pair
        for j in np.nonzero(np.diagonal(t, -1))[0]:
            a, b, c, d = t[j, j], t[j, j + 1], t[j + 1, j], t[j + 1, j + 1]
            assert (a - d) ** 2 / 4 + b * c < 0
    rotation = np.array([[np.cos(1.0), -np.sin(1.0)], [np.sin(1.0), np.cos(1.0)]])
    T, Z = jaxla.schur(rotation)
    assert float(T[1, 0]) != 0.0  # a genuine 2x2 block
    testing.assert_close(np.asarray(Z) @ np.asarray(T) @ np.asarray(Z).T, rotation)


def test_schur_nan_and_one_by_one():
    T, Z = jaxla.schur(jnp.array([[jnp.nan, 1.0], [0.0, 1.0]]))
    assert np.all(np.isnan(np.asarray(T)))
    T, Z = jaxla.schur(jnp.array([[4.0]]))
    testing.assert_close(T, [[4.0]])
    testing.assert_close(Z, [[1.0]])


def test_qr_algorithm_errors():
    with pytest.raises(ValueError, match="`A` must be square"):
        jaxla.eigh_qr(jnp.ones((3, 2)))
    with pytest.raises(ValueError, match="`A` must have at least 2"):
        jaxla.eigvals_qr(jnp.ones(3))
    with pytest.raises(ValueError, match="`max_iters` must be >= 1"):
        jaxla.schur(jnp.eye(3), max_iters=0)
    with pytest.raises(TypeError, match="`A` must be real"):
        jaxla.eigh_qr(jnp.eye(2, dtype=jnp.complex64))
