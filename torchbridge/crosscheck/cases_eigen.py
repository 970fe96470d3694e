"""Cross-check cases for the eigen-solvers (`jaxla.eigen`, `qr_algorithm`, `krylov`).

Test matrices are built from a chosen spectrum with gaps, so eigenvectors are
well conditioned and the default tolerances apply. Where an output is not
unique (Schur forms, clustered eigenvectors) the comparator measures what is:
reconstruction and orthogonality residuals and the eigenvalues.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.optimize
from jax.tree_util import Partial

import jaxla
from torchbridge import linalg as tl
from torchbridge import testing
from torchbridge.crosscheck.registry import Case, eigvecs, fields, register, values


def _is64(x) -> bool:
    return "64" in str(x.dtype)


def _tol(x) -> float:
    """Iteration tolerance for the dtype under test: tight enough that the pairs
    agree to the registry's default comparison tolerance."""
    return 1e-13 if _is64(x) else 1e-6


def _with_spectrum(rng, spectrum):
    n = len(spectrum)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (Q * np.asarray(spectrum, float)) @ Q.T


def jaxla_matvec(A, x):
    """Dense product as a named function, so `Partial(jaxla_matvec, A)` is an operator."""
    return A @ x


def _sym_eig(A):
    w, V = np.linalg.eigh(A)
    return w, V


# --------------------------------------------------------------- comparators
def _eigh_residual(result, other, inputs) -> float:
    """Eigenvalue error vs `other` plus ‖AV − VΛ‖_F/‖A‖_F and ‖VᵀV − I‖_F of `result`
    (for clustered spectra, whose eigenvectors are not individually determined)."""
    A = testing.to_numpy(inputs[0])
    w, V = testing.to_numpy(result[0]), testing.to_numpy(result[1])
    resid = np.linalg.norm(A @ V - V * w[..., None, :]) / max(np.linalg.norm(A), 1e-300)
    ortho = np.linalg.norm(np.swapaxes(V, -1, -2) @ V - np.eye(V.shape[-1]))
    return max(testing.relative_error(result[0], other[0]), resid, ortho / V.shape[-1])


def _matched(a, b) -> float:
    """Relative error between two eigenvalue lists after optimal matching."""
    a, b = testing.to_numpy(a).reshape(-1, testing.to_numpy(a).shape[-1]), \
        testing.to_numpy(b).reshape(-1, testing.to_numpy(b).shape[-1])
    worst = 0.0
    for x, y in zip(a, b):
        cost = np.abs(x[:, None] - y[None, :])
        if not np.all(np.isfinite(cost)):
            return float("inf")
        r, c = scipy.optimize.linear_sum_assignment(cost)
        worst = max(worst, np.linalg.norm(x[r] - y[c]) / max(np.linalg.norm(y), 1e-300))
    return float(worst)


def _eigvals_compare(result, other, inputs) -> float:
    del inputs
    return _matched(result, other)


def _schur_compare(result, other, inputs) -> float:
    """Schur forms are not unique: reconstruction, orthogonality, quasi-triangularity
    (at most one nonzero per two subdiagonal positions) and eigenvalues of T."""
    A = testing.to_numpy(inputs[0])
    T, Z = testing.to_numpy(result[0]), testing.to_numpy(result[1])
    scale = max(np.linalg.norm(A), 1e-300)
    recon = np.linalg.norm(Z @ T @ Z.T - A) / scale
    ortho = np.linalg.norm(Z.T @ Z - np.eye(A.shape[-1])) / A.shape[-1]
    lower = np.linalg.norm(np.tril(T, -2)) / scale
    sub = np.abs(np.diagonal(T, -1))
    adjacent = float(np.max(np.minimum(sub[:-1], sub[1:]), initial=0.0)) / scale
    eig = _matched(np.linalg.eigvals(T), np.linalg.eigvals(testing.to_numpy(other[0])))
    return max(recon, ortho, lower, adjacent, eig)


def _pair_compare(result, other, inputs) -> float:
    del inputs
    return max(values(result[0], other[0], ()), eigvecs(result[1][..., None],
                                                       other[1][..., None], ()))


# --------------------------------------------------------------- references
def _dominant(A):
    w, V = _sym_eig(A)
    i = np.argmax(np.abs(w), axis=-1)
    return w[i], V[:, i]


def _closest(A, shift):
    w, V = _sym_eig(A)
    i = np.argmin(np.abs(w - shift))
    return w[i], V[:, i]


def _spd_inputs(rng):
    A = _with_spectrum(rng, [10.0, 5.0, 2.0, 1.0, 0.5, -0.25, 0.1, -3.0])
    return A, rng.standard_normal(8)


register(Case(
    name="power_iteration/symmetric",
    make_inputs=_spd_inputs,
    reference=lambda A, v0: _dominant(A),
    jax_fn=lambda A, v0: tuple(jaxla.power_iteration(A, v0, tol=_tol(A))[:2]),
    torch_fn=lambda A, v0: tuple(tl.power_iteration(A, v0, tol=_tol(A))[:2]),
    compare=_pair_compare,
))

register(Case(
    name="power_iteration/operator",
    make_inputs=_spd_inputs,
    reference=lambda A, v0: _dominant(A),
    jax_fn=lambda A, v0: tuple(jaxla.power_iteration(
        Partial(jaxla_matvec, A), v0, tol=_tol(A))[:2]),
    torch_fn=lambda A, v0: tuple(tl.power_iteration(lambda x: A @ x, v0, tol=_tol(A))[:2]),
    compare=_pair_compare,
))


register(Case(
    name="inverse_iteration/shift",
    make_inputs=_spd_inputs,
    reference=lambda A, v0: _closest(A, 1.8),
    jax_fn=lambda A, v0: tuple(jaxla.inverse_iteration(A, v0, shift=1.8, tol=_tol(A))[:2]),
    torch_fn=lambda A, v0: tuple(tl.inverse_iteration(A, v0, shift=1.8, tol=_tol(A))[:2]),
    compare=_pair_compare,
))


def _rqi_inputs(rng):
    A, _ = _spd_inputs(rng)
    _, V = _sym_eig(A)
    return A, V[:, 3] + 0.05 * rng.standard_normal(8)


register(Case(
    name="rayleigh_quotient_iteration/symmetric",
    make_inputs=_rqi_inputs,
    reference=lambda A, v0: _closest(A, float(v0 @ A @ v0 / (v0 @ v0))),
    jax_fn=lambda A, v0: tuple(jaxla.rayleigh_quotient_iteration(A, v0, tol=_tol(A))[:2]),
    torch_fn=lambda A, v0: tuple(tl.rayleigh_quotient_iteration(A, v0, tol=_tol(A))[:2]),
    compare=_pair_compare,
))


def _top_abs(A, k):
    w, V = _sym_eig(A)
    idx = np.sort(np.argsort(-np.abs(w))[:k])
    idx = idx[np.argsort(w[idx])]
    return w[idx], V[:, idx]


register(Case(
    name="deflated_power_iteration/top3",
    make_inputs=lambda rng: (_with_spectrum(rng, [8.0, -4.0, 2.0, 1.0, 0.5, 0.25]),
                             rng.standard_normal((6, 3))),
    reference=lambda A, V0: _top_abs(A, 3),
    jax_fn=lambda A, V0: jaxla.deflated_power_iteration(A, V0, tol=_tol(A)),
    torch_fn=lambda A, V0: tl.deflated_power_iteration(A, V0, tol=_tol(A)),
    compare=fields(_0=values, _1=eigvecs),
))


def _batch_sym(rng):
    X = rng.standard_normal((3, 8, 8))
    return (X + np.swapaxes(X, -1, -2),)


register(Case(
    name="eigh_qr/batch",
    make_inputs=_batch_sym,
    reference=lambda A: np.linalg.eigh(A),
    jax_fn=lambda A: jaxla.eigh_qr(A),
    torch_fn=lambda A: tl.eigh_qr(A),
    compare=fields(_0=values, _1=eigvecs),
))


def _wilkinson(m=10):
    return (np.diag(np.abs(np.arange(-m, m + 1)).astype(float))
            + np.diag(np.ones(2 * m), 1) + np.diag(np.ones(2 * m), -1))


register(Case(
    name="eigh_qr/wilkinson21",
    make_inputs=lambda rng: (_wilkinson(),),
    reference=lambda A: np.linalg.eigh(A),
    jax_fn=lambda A: jaxla.eigh_qr(A),
    torch_fn=lambda A: tl.eigh_qr(A),
    compare=_eigh_residual,  # top pairs agree to ~1e-14: vectors are not individually defined
))


def _general(rng):
    return (rng.standard_normal((2, 7, 7)),)


register(Case(
    name="eigvals_qr/general",
    make_inputs=_general,
    reference=lambda A: np.linalg.eigvals(A),
    jax_fn=lambda A: jaxla.eigvals_qr(A),
    torch_fn=lambda A: tl.eigvals_qr(A),
    compare=_eigvals_compare,
))

register(Case(
    name="eigvals_qr/rotation",
    make_inputs=lambda rng: (np.array([[np.cos(0.3), -np.sin(0.3), 0.0],
                                       [np.sin(0.3), np.cos(0.3), 0.0],
                                       [0.0, 0.0, 2.0]]),),
    reference=lambda A: np.linalg.eigvals(A),
    jax_fn=lambda A: jaxla.eigvals_qr(A),
    torch_fn=lambda A: tl.eigvals_qr(A),
    compare=_eigvals_compare,
))

register(Case(
    name="schur/general",
    make_inputs=lambda rng: (rng.standard_normal((9, 9)),),
    reference=lambda A: scipy.linalg.schur(A, output="real"),
    jax_fn=lambda A: tuple(jaxla.schur(A)),
    torch_fn=lambda A: tuple(tl.schur(A)),
    compare=_schur_compare,
))


def _lanczos_inputs(rng):
    spectrum = np.concatenate([[20.0, 15.0, 12.0], np.linspace(-5, 5, 37)])
    return _with_spectrum(rng, spectrum), rng.standard_normal(40)


register(Case(
    name="lanczos_eigsh/largest",
    make_inputs=_lanczos_inputs,
    reference=lambda A, v0: tuple(a[..., -3:] for a in _sym_eig(A)),
    jax_fn=lambda A, v0: jaxla.lanczos_eigsh(A, v0, 3, num_iters=30),
    torch_fn=lambda A, v0: tl.lanczos_eigsh(A, v0, 3, num_iters=30),
    compare=fields(_0=values, _1=eigvecs),
))

register(Case(
    name="lanczos_eigsh/smallest_operator",
    make_inputs=lambda rng: (_with_spectrum(rng, np.concatenate(
        [[-9.0, -7.0], np.linspace(0, 4, 28)])), rng.standard_normal(30)),
    reference=lambda A, v0: tuple(a[..., :2] for a in _sym_eig(A)),
    jax_fn=lambda A, v0: jaxla.lanczos_eigsh(Partial(jaxla_matvec, A), v0, 2,
                                             num_iters=30, which="smallest"),
    torch_fn=lambda A, v0: tl.lanczos_eigsh(lambda x: A @ x, v0, 2, num_iters=30,
                                            which="smallest"),
    compare=fields(_0=values, _1=eigvecs),
))


def _arnoldi_reference(A, v0, m=6):
    """Float64 Arnoldi via QR of the Krylov matrix: K = Q R gives Q with positive
    diagonal R (the Arnoldi normalization), H = Qᵀ A Q[:, :m]."""
    K = np.stack([np.linalg.matrix_power(A, j) @ v0 for j in range(m + 1)], axis=1)
    Q, R = np.linalg.qr(K)
    Q = Q * np.sign(np.diagonal(R))
    return Q, Q.T @ A @ Q[:, :m]


register(Case(
    name="arnoldi/general",
    make_inputs=lambda rng: (rng.standard_normal((12, 12)) / np.sqrt(12),
                             rng.standard_normal(12)),
    reference=_arnoldi_reference,
    jax_fn=lambda A, v0: tuple(jaxla.arnoldi(A, v0, 6)),
    torch_fn=lambda A, v0: tuple(tl.arnoldi(A, v0, 6)),
))


def _gen_inputs(rng):
    A = _with_spectrum(rng, [3.0, 1.0, -2.0, 0.5, 4.5, -1.0])
    X = rng.standard_normal((6, 6))
    return A, X @ X.T + 6 * np.eye(6)


register(Case(
    name="generalized_eigh/spd",
    make_inputs=_gen_inputs,
    reference=lambda A, B: scipy.linalg.eigh(A, B),
    jax_fn=jaxla.generalized_eigh,
    torch_fn=tl.generalized_eigh,
    compare=fields(_0=values, _1=eigvecs),
))
