"""Tests for jaxla.krylov (lanczos_eigsh, arnoldi) and jaxla.operators.hvp."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import zoo  # tests/jaxla/zoo.py
from jax.flatten_util import ravel_pytree
from jax.tree_util import Partial

import jaxla
from torchbridge import testing


def _matvec(A, x):
    return A @ x


SPECTRUM = np.concatenate([[30.0, 20.0, 15.0], np.linspace(-4.0, 4.0, 21), [-12.0]])


# ----------------------------------------------------------------- lanczos
@pytest.mark.parametrize("which,expected", [("largest", [15.0, 20.0, 30.0]),
                                            ("smallest", [-12.0, -4.0, -3.6])])
def test_lanczos_known_spectrum(x64, rng, which, expected):
    A = zoo.symmetric(rng, SPECTRUM)
    w, V = jaxla.lanczos_eigsh(A, rng.standard_normal(25), 3, num_iters=25, which=which)
    testing.assert_close(w, expected, rtol=1e-12, atol=1e-12)
    testing.assert_close(A @ np.asarray(V), np.asarray(V) * np.asarray(w), atol=1e-11)
    testing.assert_close(np.asarray(V).T @ np.asarray(V), np.eye(3), atol=1e-12)


def test_lanczos_operator_under_jit_float32(rng):
    A = jnp.asarray(zoo.symmetric(rng, SPECTRUM).astype(np.float32))
    run = jax.jit(jaxla.lanczos_eigsh, static_argnums=2, static_argnames=("num_iters", "which"))
    dense = run(A, jnp.ones(25), 2, num_iters=20)
    op = run(Partial(_matvec, A), jnp.ones(25), 2, num_iters=20)
    testing.assert_close(dense.eigenvalues, [20.0, 30.0], rtol=1e-5)
    testing.assert_close(op.eigenvalues, dense.eigenvalues)


def test_lanczos_breakdown_invariant_subspace(x64):
    """v0 in a 2-D invariant subspace: β = 0, restart, still exact with m = n."""
    D = np.diag(np.arange(1.0, 7.0))
    w, V = jaxla.lanczos_eigsh(D, np.eye(6)[0] + np.eye(6)[1], 2, num_iters=6)
    testing.assert_close(w, [5.0, 6.0])
    testing.assert_eigvecs_close(V, np.eye(6)[:, 4:])
    w0, V0 = jaxla.lanczos_eigsh(np.zeros((6, 6)), np.ones(6), 2, num_iters=6)
    testing.assert_close(w0, [0.0, 0.0])
    assert np.all(np.isfinite(np.asarray(V0)))


def test_lanczos_large_matrix(rng):
    """n = 1000, float32: A = U diag(s) Uᵀ + 0.5 I (rank 8 + shift), known top-5."""
    n = 1000
    U, _ = np.linalg.qr(rng.standard_normal((n, 8)))
    s = np.array([9.0, 8.0, 6.0, 5.0, 4.0, 2.0, 1.0, 0.5])
    A = ((U * s) @ U.T + 0.5 * np.eye(n)).astype(np.float32)
    w, V = jaxla.lanczos_eigsh(A, np.ones(n, np.float32), 5, num_iters=20)
    testing.assert_close(w, np.sort(s[:5]) + 0.5, rtol=1e-5)
    testing.assert_subspaces_close(V, U[:, :5], atol=1e-4)


def test_lanczos_batch_and_vmap(rng):
    A = np.stack([zoo.symmetric(rng, SPECTRUM), 2 * zoo.symmetric(rng, SPECTRUM)])
    A = A.astype(np.float32)
    v0 = rng.standard_normal(25).astype(np.float32)
    w, V = jaxla.lanczos_eigsh(A, v0, 1, num_iters=25)
    assert w.shape == (2, 1) and V.shape == (2, 25, 1)
    wv, _ = jax.vmap(lambda a: jaxla.lanczos_eigsh(a, v0, 1, num_iters=25))(A)
    testing.assert_close(w, [[30.0], [60.0]], rtol=1e-5)
    testing.assert_close(wv, w)


def test_lanczos_gradient_is_v_vT(x64, rng):
    A = zoo.symmetric(rng, SPECTRUM)
    v0 = rng.standard_normal(25)

    def top(a):
        return jaxla.lanczos_eigsh(a, v0, 2, num_iters=25).eigenvalues[-1]

    g = np.asarray(jax.grad(top)(jnp.asarray(A)))
    v = np.linalg.eigh(A)[1][:, -1]
    testing.assert_close(g, np.outer(v, v), atol=1e-10)
    E = rng.standard_normal((25, 25))
    E = E + E.T
    h = 1e-6
    fd = (float(top(A + h * E)) - float(top(A - h * E))) / (2 * h)
    testing.assert_close(np.sum(g * E), fd, rtol=1e-6)


# ------------------------------------------------------------ block lanczos
@pytest.mark.parametrize("which,expected", [("largest", [15.0, 20.0, 30.0]),
                                            ("smallest", [-12.0, -4.0, -3.6])])
def test_block_lanczos_known_spectrum(x64, rng, which, expected):
    """v0 (n, b): s·b = n gives the exact extreme pairs; residual and orthonormality."""
    A = zoo.symmetric(rng, SPECTRUM)
    w, V = jaxla.lanczos_eigsh(A, rng.standard_normal((25, 5)), 3, num_iters=5, which=which)
    V = np.asarray(V)
    testing.assert_close(w, expected, rtol=1e-12, atol=1e-12)
    testing.assert_close(A @ V, V * np.asarray(w), atol=1e-11)
    testing.assert_close(V.T @ V, np.eye(3), atol=1e-12)
    ref = np.linalg.eigh(A)[1][:, -3:] if which == "largest" else np.linalg.eigh(A)[1][:, :3]
    testing.assert_eigvecs_close(V, ref, atol=1e-10)


def test_block_lanczos_large_float32_matches_eigh(rng):
    """n = 1000, float32, well-separated top-6 over a bulk: b = 6, 8 block steps."""
    n = 1000
    U, _ = np.linalg.qr(rng.standard_normal((n, 6)))
    s = np.array([9.0, 8.0, 7.5, 6.0, 5.0, 4.0])
    A = ((U * s) @ U.T + np.diag(rng.uniform(0, 1, n))).astype(np.float32)
    w, V = jaxla.lanczos_eigsh(A, rng.standard_normal((n, 6)).astype(np.float32), 4,
                               num_iters=8)
    w_ref, V_ref = np.linalg.eigh(A.astype(np.float64))
    testing.assert_close(w, w_ref[-4:], rtol=1e-5)
    testing.assert_subspaces_close(V, V_ref[:, -4:], atol=1e-3)
    V = np.asarray(V, np.float64)
    res = np.linalg.norm(A @ V - V * np.asarray(w), axis=0) / np.linalg.norm(A, 2)
    assert np.max(res) < 1e-5


def test_block_lanczos_operator_jit_vmap_and_breakdown(x64, rng):
    A = zoo.symmetric(rng, SPECTRUM)
    V0 = rng.standard_normal((25, 4))
    run = jax.jit(jaxla.lanczos_eigsh, static_argnums=2, static_argnames=("num_iters", "which"))
    dense = run(A, V0, 2, num_iters=6)
    op = run(Partial(_matvec, jnp.asarray(A)), V0, 2, num_iters=6)
    testing.assert_close(op.eigenvalues, dense.eigenvalues, rtol=1e-12)
    testing.assert_close(dense.eigenvalues, [20.0, 30.0], rtol=1e-10)
    # batch (A batched, V0 broadcast as a block) and vmap agree
    Ab = np.stack([A, 2 * A])
    wb, Vb = jaxla.lanczos_eigsh(Ab, np.stack([V0, V0]), 1, num_iters=6)
    assert wb.shape == (2, 1) and Vb.shape == (2, 25, 1)
    wv, _ = jax.vmap(lambda a: jaxla.lanczos_eigsh(a, V0, 1, num_iters=6))(Ab)
    testing.assert_close(wb, [[30.0], [60.0]], rtol=1e-10)
    testing.assert_close(wv, wb, rtol=1e-12)
    # breakdown: start block spans an invariant subspace, duplicated columns, A = 0
    D = np.diag(np.arange(1.0, 7.0))
    for V0b in (np.eye(6)[:, :2], np.ones((6, 2)), np.eye(6)[:, [0, 0, 1]]):
        w, V = jaxla.lanczos_eigsh(D, V0b, 2, num_iters=6 // V0b.shape[1])
        testing.assert_close(w, [5.0, 6.0], atol=1e-12)
        testing.assert_close(np.asarray(V).T @ np.asarray(V), np.eye(2), atol=1e-12)
    w0, V0z = jaxla.lanczos_eigsh(np.zeros((6, 6)), np.ones((6, 3)), 2, num_iters=2)
    testing.assert_close(w0, [0.0, 0.0])
    assert np.all(np.isfinite(np.asarray(V0z)))
    w_nan, _ = jaxla.lanczos_eigsh(A * np.nan, V0, 1, num_iters=6)
    assert np.all(np.isnan(np.asarray(w_nan)))


def test_block_lanczos_gradient_is_v_vT(x64, rng):
    A = zoo.symmetric(rng, SPECTRUM)
    V0 = rng.standard_normal((25, 3))

    def top(a):
        return jaxla.lanczos_eigsh(a, V0, 2, num_iters=8).eigenvalues[-1]

    g = np.asarray(jax.grad(top)(jnp.asarray(A)))
    # The rule gives exactly the Ritz vector's outer product; eight block steps
    # span 24 of 25 dimensions, so that vector is accurate to residual / gap.
    w, V = jaxla.lanczos_eigsh(A, V0, 2, num_iters=8)
    ritz = np.asarray(V)[:, -1]
    testing.assert_close(g, np.outer(ritz, ritz), atol=1e-12)
    residual = np.linalg.norm(A @ ritz - float(w[-1]) * ritz)
    v = np.linalg.eigh(A)[1][:, -1]
    testing.assert_close(g, np.outer(v, v), atol=2 * residual / 10.0)
    E = rng.standard_normal((25, 25))
    E = E + E.T
    h = 1e-6
    fd = (float(top(A + h * E)) - float(top(A - h * E))) / (2 * h)
    testing.assert_close(np.sum(g * E), fd, rtol=1e-6)


def test_block_lanczos_errors():
    A = jnp.eye(4)
    with pytest.raises(ValueError, match="block width b = 5 must be <= n = 4"):
        jaxla.lanczos_eigsh(A, jnp.ones((4, 5)), 1)
    with pytest.raises(ValueError, match=r"`k` must be <= b \* floor\(n / b\) = 3"):
        jaxla.lanczos_eigsh(jnp.eye(5), jnp.ones((5, 3)), 4)
    with pytest.raises(ValueError, match="`num_iters` \\(block steps\\) must satisfy"):
        jaxla.lanczos_eigsh(A, jnp.ones((4, 2)), 1, num_iters=3)
    with pytest.raises(ValueError, match="`num_iters` \\(block steps\\) must satisfy"):
        jaxla.lanczos_eigsh(A, jnp.ones((4, 2)), 3, num_iters=1)
    with pytest.raises(ValueError, match="`v0` must be a nonzero start vector"):
        jaxla.lanczos_eigsh(A, jnp.eye(4)[:, :2].at[:, 1].set(0.0), 1)
    with pytest.raises(ValueError, match="incompatible with `A`"):
        jaxla.lanczos_eigsh(A, jnp.ones((3, 2)), 1)
    with pytest.raises(ValueError, match="`v0` must have 1 or 2 dimensions"):
        jaxla.lanczos_eigsh(lambda v: v, jnp.ones((2, 4, 2)), 1)


def _block_krylov_ritz(A, V0, s):
    """Reference Ritz values of span{V0, AV0, …, A^{s-1}V0}: block Arnoldi in NumPy float64."""
    blocks = [np.linalg.qr(V0)[0]]
    for _ in range(s - 1):
        W = A @ blocks[-1]
        for _ in range(2):
            for B in blocks:
                W = W - B @ (B.T @ W)
        blocks.append(np.linalg.qr(W)[0])
    Q = np.concatenate(blocks, axis=1)
    return np.linalg.eigvalsh(Q.T @ A @ Q)


@pytest.mark.parametrize("s", [1, 2, 3, 4, 6, 9])
def test_block_lanczos_step_counts_match_block_krylov_ritz_values(x64, rng, s):
    """Every step count (1 step: no loop; fewer steps than phases; uneven phases)
    gives exactly the Rayleigh-Ritz values of the block Krylov space."""
    n, b = 40, 3
    A = zoo.symmetric(rng, np.linspace(-1.0, 2.0, n) ** 3)
    V0 = rng.standard_normal((n, b))
    ref = _block_krylov_ritz(A, V0, s)
    for which, sel in (("largest", slice(-2, None)), ("smallest", slice(0, 2))):
        w, V = jaxla.lanczos_eigsh(A, V0, 2, num_iters=s, which=which)
        testing.assert_close(w, ref[sel], rtol=1e-10, atol=1e-12)
        V = np.asarray(V)
        testing.assert_close(V.T @ V, np.eye(2), atol=1e-12)
        # Ritz pairs: the residual is orthogonal to the subspace, so vᵀAv = θ
        testing.assert_close(np.sum(V * (A @ V), axis=0), w, rtol=1e-10, atol=1e-12)


def test_block_lanczos_long_run_stays_orthonormal_float32(rng):
    """Slowly decaying spectrum (the benchmark's λ_i = exp(-i/decay), small):
    many steps, float32; Ritz vectors orthonormal and accurate to working precision."""
    n, b, s, k = 400, 8, 30, 10
    lam = np.exp(-np.arange(n) / 10.0)
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = ((U * lam) @ U.T).astype(np.float32)
    w, V = jaxla.lanczos_eigsh(A, rng.standard_normal((n, b)).astype(np.float32), k,
                               num_iters=s)
    V = np.asarray(V, np.float64)
    testing.assert_close(V.T @ V, np.eye(k), atol=2e-6)
    testing.assert_close(w, lam[:k][::-1], rtol=2e-6, atol=2e-7)
    A64 = A.astype(np.float64)
    assert np.max(np.linalg.norm(A64 @ V - V * np.asarray(w, np.float64), axis=0)) < 2e-6


@pytest.mark.parametrize("scale", [1e-25, 1e25])
def test_block_lanczos_extreme_scale_float32(rng, scale):
    """‖AQ‖² under/overflows float32, so the Cholesky QR fails: the Householder
    fallback must take over and give the scaled result."""
    n = 60
    A = zoo.symmetric(rng, np.linspace(1.0, 3.0, n)).astype(np.float32)
    V0 = rng.standard_normal((n, 4)).astype(np.float32)
    w1, V1 = jaxla.lanczos_eigsh(A, V0, 3, num_iters=15)
    ws, Vs = jaxla.lanczos_eigsh(A * np.float32(scale), V0, 3, num_iters=15)
    testing.assert_close(np.asarray(ws) / scale, w1, rtol=1e-5)
    testing.assert_subspaces_close(Vs, V1, atol=1e-4)
    assert np.all(np.isfinite(np.asarray(Vs)))


def _orthonormal(rng, n, w, dtype):
    return np.linalg.qr(rng.standard_normal((n, w)))[0].astype(dtype)


def _check_new_block(Q, W, Qn, atol):
    Qn = np.asarray(Qn, np.float64)
    testing.assert_close(Qn.T @ Qn, np.eye(Qn.shape[1]), atol=atol)
    testing.assert_close(Q.T.astype(np.float64) @ Qn, np.zeros((Q.shape[1], Qn.shape[1])),
                         atol=atol)


@pytest.mark.parametrize("kappa", [1.0, 1e2, 3e3, 1e5])
def test_next_block_orthonormal_and_spans_w(rng, kappa):
    """float32, W of condition number κ (fast Cholesky-QR path up to a few
    thousand, Householder fallback beyond): orthonormal, ⊥ Q, span(W) kept."""
    from jaxla.krylov import _next_block, _project_out

    n, w, b = 300, 40, 8
    Q = _orthonormal(rng, n, w, np.float32)
    Q, Qt = jnp.asarray(Q), jnp.asarray(Q.T)
    U, _ = np.linalg.qr(rng.standard_normal((n, b)))
    R, _ = np.linalg.qr(rng.standard_normal((b, b)))
    W = ((U * np.logspace(0.0, -np.log10(kappa), b)) @ R.T).astype(np.float32)
    W = _project_out(Q, Qt, jnp.asarray(W))
    Qn = _next_block((Q, Qt), W, jax.random.key(1))
    _check_new_block(np.asarray(Q), W, Qn, atol=2e-6)
    W64, Qn64 = np.asarray(W, np.float64), np.asarray(Qn, np.float64)
    testing.assert_close(Qn64 @ (Qn64.T @ W64), W64, atol=2e-6 * np.linalg.norm(W64))


@pytest.mark.parametrize("case", ["dependent", "inside_span_q", "zero", "ill_conditioned"])
def test_next_block_fallback_cases(rng, case):
    """Blocks the Cholesky QR cannot handle go to the Householder path with random
    repair: the result is the same as calling it directly, orthonormal and ⊥ Q."""
    from jaxla.krylov import _next_block, _project_out, _robust_block

    n, w, b = 200, 30, 6
    Q = _orthonormal(rng, n, w, np.float32)
    W = rng.standard_normal((n, b)).astype(np.float32)
    if case == "dependent":
        W[:, 3] = W[:, 1]
    elif case == "inside_span_q":
        W[:, 2] = Q[:, 5] + 1e-9 * W[:, 2]
    elif case == "zero":
        W[:] = 0.0
    else:
        W[:, 4] = W[:, 0] + 1e-6 * W[:, 4]
    Q, Qt = jnp.asarray(Q), jnp.asarray(Q.T)
    W = _project_out(Q, Qt, jnp.asarray(W))
    key = jax.random.key(3)
    Qn = _next_block((Q, Qt), W, key)
    testing.assert_close(Qn, _robust_block((Q, Qt), W, key), atol=0.0)
    _check_new_block(np.asarray(Q), W, Qn, atol=2e-6)


# ------------------------------------------------------------------ arnoldi
def test_arnoldi_relation(x64, rng):
    A = rng.standard_normal((12, 12))
    Q, H = jax.jit(jaxla.arnoldi, static_argnums=2)(A, rng.standard_normal(12), 6)
    Q, H = np.asarray(Q), np.asarray(H)
    assert Q.shape == (12, 7) and H.shape == (7, 6)
    testing.assert_close(A @ Q[:, :6], Q @ H, atol=1e-12)
    testing.assert_close(Q.T @ Q, np.eye(7), atol=1e-13)
    assert np.all(np.tril(H, -2) == 0)


def test_arnoldi_full_dimension_and_breakdown(x64, rng):
    A = rng.standard_normal((5, 5))
    Q, H = jaxla.arnoldi(A, np.ones(5), 5)
    testing.assert_close(np.asarray(Q[:, 5]), np.zeros(5))  # no sixth direction in R^5
    ritz = np.linalg.eigvals(np.asarray(H[:5]))
    testing.assert_close(np.sort_complex(ritz), np.sort_complex(np.linalg.eigvals(A)),
                         atol=1e-10)
    # v0 an eigenvector: breakdown at step 1, restart keeps Q orthonormal.
    D = np.diag([1.0, 2.0, 3.0, 4.0])
    Q, H = jaxla.arnoldi(Partial(_matvec, jnp.asarray(D)), jnp.array([1.0, 0, 0, 0]), 3)
    assert float(H[1, 0]) == 0.0
    testing.assert_close(np.asarray(Q).T @ np.asarray(Q), np.eye(4), atol=1e-12)
    testing.assert_close(D @ np.asarray(Q[:, :3]), np.asarray(Q) @ np.asarray(H), atol=1e-12)


# ----------------------------------------------------------------------- hvp
def _loss(params):
    w, b = params["w"], params["b"]
    return jnp.sum(jnp.tanh(w @ jnp.arange(1.0, 4.0) + b) ** 2) + 0.1 * jnp.sum(w ** 4)


def test_hvp_matches_dense_hessian_and_feeds_lanczos(x64):
    params = {"w": jnp.array([[0.3, -0.2, 0.1], [0.5, 0.4, -0.6]]), "b": jnp.array([0.1, -0.3])}
    flat, unravel = ravel_pytree(params)
    H = jax.hessian(lambda x: _loss(unravel(x)))(flat)
    op = jaxla.operators.hvp(_loss, params)
    testing.assert_close(jax.vmap(op)(jnp.eye(flat.size)), H, atol=1e-12)
    w, V = jax.jit(jaxla.lanczos_eigsh, static_argnums=2, static_argnames="num_iters")(
        op, jnp.ones(flat.size), 2, num_iters=flat.size)
    testing.assert_close(w, np.linalg.eigvalsh(np.asarray(H))[-2:], atol=1e-10)
    assert unravel(V[:, -1])["w"].shape == (2, 3)


# -------------------------------------------------------------------- errors
def test_krylov_errors():
    A = jnp.eye(4)
    with pytest.raises(ValueError, match="`v0` must be a nonzero start vector"):
        jaxla.lanczos_eigsh(A, jnp.zeros(4), 1)
    with pytest.raises(ValueError, match="`v0` must be a nonzero start vector"):
        jaxla.arnoldi(A, jnp.zeros(4), 2)
    with pytest.raises(ValueError, match="`which` must be one of"):
        jaxla.lanczos_eigsh(A, jnp.ones(4), 1, which="biggest")
    with pytest.raises(ValueError, match="`k` must be <= n"):
        jaxla.lanczos_eigsh(A, jnp.ones(4), 5)
    with pytest.raises(ValueError, match="`num_iters` must satisfy"):
        jaxla.lanczos_eigsh(A, jnp.ones(4), 3, num_iters=2)
    with pytest.raises(ValueError, match="`num_iters` must be <= n"):
        jaxla.arnoldi(A, jnp.ones(4), 5)
    with pytest.raises(TypeError, match="`k` must be a static Python int"):
        jaxla.lanczos_eigsh(A, jnp.ones(4), 1.0)
    with pytest.raises(ValueError, match="`v0` must have 1"):
        jaxla.lanczos_eigsh(lambda v: v, jnp.ones((2, 4, 4)), 1)
