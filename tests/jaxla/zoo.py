"""The test-matrix zoo: float64 NumPy matrices whose difficulty is known in advance.

Reusable by every test module (`from tests.jaxla import zoo` or `import zoo`
with tests/jaxla on the path). Builders take a NumPy generator where they are
random, return float64 arrays and never depend on JAX.

  * `with_spectrum(rng, m, n, cond)`: U diag(σ) Vᵀ with σ geometric from 1 to
    1/cond, Haar-random U, V -- κ₂ is exactly `cond` (up to rounding).
  * `spd_with_spectrum(rng, n, cond)`: Q diag(λ) Qᵀ, λ geometric in [1/cond, 1].
  * `hilbert(n)`: H_ij = 1/(i+j+1) (0-based); κ₂(H_12) ≈ 1.7e16.
  * `kahan(n)`: Kahan's upper-triangular matrix, a classic for rank-revealing
    and pivoting failures (diag s^i, off-diagonal -c s^i).
  * `graded(rng, n, decades)`: D G D with D = diag(10^(-decades·i/(n-1)))
    (rows and columns scaled over `decades` orders of magnitude).
  * `rank_deficient(rng, m, n, rank)`, `near_singular(rng, n, delta)`.
  * `general_zoo(dtype)`, `spd_zoo(dtype)`, `rectangular_zoo(dtype)`: named
    lists used by the LAPACK-criterion tests (κ up to 1e12 in float64, 1e5 in
    float32; Hilbert only in float64).
"""

from __future__ import annotations

import numpy as np

MAX_COND = {"float32": 1e5, "float64": 1e12}


def haar_orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    """Haar-distributed n×n orthogonal matrix (QR of a Gaussian, signs fixed)."""
    if n == 0:
        return np.zeros((0, 0))
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def geometric_spectrum(k: int, cond: float) -> np.ndarray:
    """k values from 1 down to 1/cond, evenly spaced in log scale."""
    if k == 1:
        return np.ones(1)
    return np.logspace(0.0, -np.log10(cond), k)


def with_singular_values(rng: np.random.Generator, m: int, n: int, sigma) -> np.ndarray:
    """m×n matrix U diag(sigma) Vᵀ with Haar-random U, V (len(sigma) = min(m, n))."""
    k = min(m, n)
    return (haar_orthogonal(rng, m)[:, :k] * sigma) @ haar_orthogonal(rng, n)[:, :k].T


def with_spectrum(rng: np.random.Generator, m: int, n: int, cond: float) -> np.ndarray:
    """m×n matrix with singular values geometric in [1/cond, 1]."""
    return with_singular_values(rng, m, n, geometric_spectrum(min(m, n), cond))


def symmetric(rng: np.random.Generator, spectrum) -> np.ndarray:
    """Symmetric Q diag(spectrum) Qᵀ with Haar-random Q."""
    q = haar_orthogonal(rng, len(spectrum))
    return (q * np.asarray(spectrum, float)) @ q.T


def spd_with_spectrum(rng: np.random.Generator, n: int, cond: float) -> np.ndarray:
    """Symmetric positive definite matrix with eigenvalues geometric in [1/cond, 1]."""
    q = haar_orthogonal(rng, n)
    a = (q * geometric_spectrum(n, cond)) @ q.T
    return (a + a.T) / 2


def hilbert(n: int) -> np.ndarray:
    """Hilbert matrix H_ij = 1/(i + j + 1), SPD and badly conditioned."""
    i = np.arange(n)
    return 1.0 / (i[:, None] + i[None, :] + 1.0)


def kahan(n: int, theta: float = 1.2) -> np.ndarray:
    """Kahan matrix: diag(1, s, ..., s^(n-1)) · (I - c · strict upper ones), s = sin θ."""
    s, c = np.sin(theta), np.cos(theta)
    upper = np.triu(-c * np.ones((n, n)), 1) + np.eye(n)
    return s ** np.arange(n)[:, None] * upper


def graded(rng: np.random.Generator, n: int, decades: float = 8.0) -> np.ndarray:
    """D G D with G Gaussian (plus n·I) and D spanning `decades` orders of magnitude."""
    d = np.logspace(0.0, -decades, n) if n > 1 else np.ones(n)
    g = rng.standard_normal((n, n)) + n * np.eye(n)
    return d[:, None] * g * d[None, :]


def graded_spd(n: int, decades: float = 8.0) -> np.ndarray:
    """D (I + 0.5 ones) D: SPD with a graded diagonal."""
    d = np.logspace(0.0, -decades, n) if n > 1 else np.ones(n)
    return d[:, None] * (np.eye(n) + 0.5 * np.ones((n, n))) * d[None, :]


def rank_deficient(rng: np.random.Generator, m: int, n: int, rank: int) -> np.ndarray:
    """m×n Gaussian product of exact (numerical) rank `rank`."""
    return rng.standard_normal((m, rank)) @ rng.standard_normal((rank, n))


def psd_rank_deficient(rng: np.random.Generator, n: int, rank: int) -> np.ndarray:
    """Symmetric positive semidefinite of rank `rank` (B Bᵀ, B with small integer entries)."""
    b = rng.integers(-3, 4, size=(n, rank)).astype(np.float64)
    return b @ b.T


def near_singular(rng: np.random.Generator, n: int, delta: float) -> np.ndarray:
    """A Gaussian matrix moved to distance ~delta·‖A‖ of the singular matrices."""
    a = rng.standard_normal((n, n))
    u, s, vt = np.linalg.svd(a)
    s[-1] = delta * s[0]
    return (u * s) @ vt


def general_zoo(dtype: str = "float64", n: int = 24, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Square matrices for LU-type factorizations: (name, float64 matrix)."""
    rng = np.random.default_rng(seed)
    top = MAX_COND[dtype]
    zoo = [(f"spectrum_cond1e{int(np.log10(c))}", with_spectrum(rng, n, n, c))
           for c in (1e1, 1e3, 1e5, 1e8, 1e12) if c <= top]
    zoo += [
        ("gaussian", rng.standard_normal((n, n))),
        ("kahan", kahan(n)),
        ("graded", graded(rng, n, 8.0 if dtype == "float64" else 3.0)),
        ("rank_deficient", rank_deficient(rng, n, n, n // 2)),
        ("near_singular", near_singular(rng, n, 10 * np.finfo(dtype).eps)),
        ("one_by_one", np.array([[3.0]])),
        ("empty", np.zeros((0, 0))),
    ]
    if dtype == "float64":
        zoo.append(("hilbert8", hilbert(8)))
    return zoo


def spd_zoo(dtype: str = "float64", n: int = 24, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Symmetric positive definite matrices for Cholesky-type factorizations."""
    rng = np.random.default_rng(seed)
    top = MAX_COND[dtype]
    zoo = [(f"spd_cond1e{int(np.log10(c))}", spd_with_spectrum(rng, n, c))
           for c in (1e1, 1e3, 1e5, 1e8, 1e12) if c <= top]
    zoo += [
        ("graded_spd", graded_spd(n, 8.0 if dtype == "float64" else 2.0)),
        ("one_by_one", np.array([[2.0]])),
        ("empty", np.zeros((0, 0))),
    ]
    if dtype == "float64":
        zoo += [("hilbert12", hilbert(12)), ("hilbert6", hilbert(6))]
    else:
        zoo.append(("hilbert4", hilbert(4)))
    return zoo


def rectangular_zoo(dtype: str = "float64", seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Tall, wide and rank-deficient rectangular matrices for QR / least squares."""
    rng = np.random.default_rng(seed)
    top = MAX_COND[dtype]
    zoo = [(f"tall_cond1e{int(np.log10(c))}", with_spectrum(rng, 30, 12, c))
           for c in (1e1, 1e5, 1e12) if c <= top]
    zoo += [
        ("wide", rng.standard_normal((9, 20))),
        ("tall_rank_deficient", rank_deficient(rng, 30, 12, 5)),
        ("column", rng.standard_normal((7, 1))),
        ("row", rng.standard_normal((1, 7))),
        ("empty_rows", np.zeros((0, 4))),
    ]
    return zoo
