"""Randomized low-rank methods: range finder, randomized SVD, Nyström eigh, RU-QLP.

All of them sketch the matrix with a Gaussian test matrix Ω, optionally run a
few power (subspace) iterations re-normalized between products, and finish
with small dense factorizations of a (k + p)-column sketch:

* `range_finder(A, Ω)`: Q = orth((A Aᵀ)^q A Ω) (Halko, Martinsson, Tropp 2011,
  Alg. 4.3/4.4), deterministic given Ω.
* `randomized_svd_from_sketch` / `randomized_svd`: B = Qᵀ A, B = Ũ S Vᵀ,
  U = Q Ũ (HMT Alg. 5.1) with scikit-learn's options and defaults.
* `randomized_eigh`: fixed-rank Nyström approximation of a PSD matrix
  (Tropp, Yurtsever, Udell, Cevher 2017, Alg. 3) or Rayleigh–Ritz (HMT Alg. 5.3).
* `ru_qlp`: randomized unpivoted QLP, A ≈ Q L Pᵀ with L lower triangular whose
  diagonal tracks the singular values (Feng, Xiang, Saad 2022; Stewart 1999).

Operators. `A` is a dense array (..., m, n) (leading batch dimensions allowed)
or a linear callable `A(x)` mapping a vector of shape (n,) to shape (m,). A
callable is applied to blocks with `jax.vmap`, and Aᵀ is derived with
`jax.linear_transpose`, which needs the input shape: functions that draw their
own sketch take `shape=(m, n)` (required for callables); the `*_from_sketch` /
`range_finder` functions read n from the sketch.

Differences from scikit-learn / PyTorch. Same options and defaults as
`sklearn.utils.extmath.randomized_svd` (oversample 10, power_iters 7 or 4,
normalizer "auto", sign flip so that the largest-|·| entry of each left
singular vector is positive), but the sketch size k + p is clipped to
min(m, n). `torch.svd_lowrank` has no normalizer choice, no oversampling
control and no sign convention.

Tall-skinny steps (range finder, randomized SVD). The (k + p)-column sketches
are normalized by shifted Cholesky QR (`jaxla._cholesky_qr`: Gram matrix, l×l
Cholesky, products) instead of LAPACK's LU/Householder QR, whose OpenBLAS
threads compete with XLA's on CPU: the same spans in exact arithmetic, so the
same results up to rounding. "lu" (scikit-learn's P·L of a pivoted LU) becomes
a well-conditioned basis of the same span, "qr" an orthonormal one. The final
basis Q and the SVD of B = QᵀA fall back to Householder QR / LAPACK's SVD
where Cholesky QR cannot reach orthonormality (numerically rank-deficient
sketches, e.g. rank(A) < k + p). `randomized_eigh` and `ru_qlp` use
`jnp.linalg` directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxla import _validate
from jaxla._cholesky_qr import (
    mm,
    mT,
    orthonormal_rows,
    orthonormalize_rows,
    well_conditioned_rows,
    wide_svd,
)
from jaxla.eigen import EighResult
from jaxla.svd import SVDResult

_HIGHEST = lax.Precision.HIGHEST
_NORMALIZERS = ("qr", "lu", "none")


# ------------------------------------------------------------------ operators
class _Operator(NamedTuple):
    """A (possibly matrix-free) linear map with block products both ways.

    `rows`/`rrows` are the same products on blocks stored as rows, X ↦ X Aᵀ
    and Y ↦ Y A: the randomized SVD keeps its sketches as (l, ·) row blocks,
    which for a dense row-major A makes the A-side product the faster kernel
    on CPU and keeps the transposes on the small factors.
    """

    matmat: Callable[[jax.Array], jax.Array]   # (n, l) -> (m, l)
    rmatmat: Callable[[jax.Array], jax.Array]  # (m, l) -> (n, l)
    rows: Callable[[jax.Array], jax.Array]     # (l, n) -> (l, m)
    rrows: Callable[[jax.Array], jax.Array]    # (l, m) -> (l, n)
    shape: tuple[int, int]
    dtype: Any

    @property
    def T(self) -> _Operator:
        return _Operator(self.rmatmat, self.matmat, self.rrows, self.rows,
                         self.shape[::-1], self.dtype)


# XLA:CPU sends Y·A with a row-major (l, m) Y to YNNPACK; for a large A its
# Eigen dot on a materialized (m, l) Yᵀ is ~25% faster and rounds less
# (measured on 1-8 Mi-entry A, 60 columns; slower below ~2 Mi entries). The
# optimization barrier keeps XLA from folding the transpose back into the dot.
_EIGEN_MIN_SIZE = 1 << 21


def _dense_operator(A: jax.Array) -> _Operator:
    """A (..., m, n); `rows`/`rrows` take blocks with A's batch dimensions."""
    nb = A.ndim - 2
    batch = (tuple(range(nb)), tuple(range(nb)))

    def rows(X):                                        # X Aᵀ, (..., l, n) -> (..., l, m)
        return lax.dot_general(X, A, (((nb + 1,), (nb + 1,)), batch), precision=_HIGHEST)

    def rrows(Y):                                       # Y A, (..., l, m) -> (..., l, n)
        plain = lambda Y: jnp.matmul(Y, A, precision=_HIGHEST)  # noqa: E731
        if A.shape[-2] * A.shape[-1] < _EIGEN_MIN_SIZE:
            return plain(Y)
        eigen = lambda Y: lax.dot_general(  # noqa: E731
            lax.optimization_barrier(mT(Y)), A, (((nb,), (nb,)), batch), precision=_HIGHEST)
        return lax.platform_dependent(Y, cpu=eigen, default=plain)

    return _Operator(
        lambda X: jnp.matmul(A, X, precision=_HIGHEST),
        lambda Y: jnp.matmul(mT(A), Y, precision=_HIGHEST),
        rows, rrows, tuple(A.shape[-2:]), A.dtype)


def _callable_operator(A: Callable, n: int, dtype: Any, name: str = "A",
                       m: int | None = None) -> _Operator:
    """Wrap a linear `A(x)`, x: (n,) -> (m,); Aᵀ comes from `jax.linear_transpose`."""
    spec = jax.ShapeDtypeStruct((n,), dtype)
    try:
        out = jax.eval_shape(A, spec)
    except Exception as err:
        raise ValueError(
            f"`{name}` is a callable but could not be applied to a vector of shape "
            f"({n},) and dtype {jnp.dtype(dtype).name}: {err}") from err
    if not isinstance(out, jax.ShapeDtypeStruct) or out.ndim != 1:
        raise ValueError(
            f"`{name}` must map a vector of shape ({n},) to a vector; got "
            f"{getattr(out, 'shape', type(out).__name__)}.")
    if m is not None and out.shape[0] != m:
        raise ValueError(
            f"`{name}` maps ({n},) to {out.shape}, but `shape` says ({m}, {n}).")
    transpose = jax.linear_transpose(A, spec)
    adjoint = lambda y: transpose(y.astype(out.dtype))[0]  # noqa: E731
    return _Operator(
        jax.vmap(A, in_axes=1, out_axes=1), jax.vmap(adjoint, in_axes=1, out_axes=1),
        jax.vmap(A), jax.vmap(adjoint), (int(out.shape[0]), n), out.dtype)


def _check_shape_arg(shape: Any) -> tuple[int, int]:
    if shape is None:
        raise ValueError("`shape` must be given as (m, n) when `A` is a callable.")
    if len(tuple(shape)) != 2:
        raise ValueError(f"`shape` must be a pair (m, n); got {shape!r}.")
    m, n = (_validate.check_positive_int(s, "shape") for s in shape)
    return m, n


def _normalize_rows(Y: jax.Array, normalizer: str) -> jax.Array:
    if normalizer == "qr":
        return orthonormal_rows(Y)[0]
    if normalizer == "lu":
        return well_conditioned_rows(Y)
    return Y


# ------------------------------------------------------------- shared cores
# Batches (leading dimensions) go through these cores whole rather than
# through `jnp.vectorize`, so that the Cholesky-QR/Householder decisions are
# one `lax.cond` per batch (under `vmap` a cond computes both branches).
def _range_finder_rows(op: _Operator, sketch: jax.Array, power_iters: int,
                       normalizer: str) -> jax.Array:
    """Qᵀ (..., l, m) with Q = orth(A (norm(Aᵀ norm(A ...)))) after `power_iters` round trips."""
    def body(_, X):
        Y = _normalize_rows(op.rows(X), normalizer)
        return _normalize_rows(op.rrows(Y), normalizer)

    X = mT(sketch)
    X = lax.fori_loop(0, power_iters, body, X) if power_iters else X
    return orthonormalize_rows(op.rows(X))


def _range_finder_core(op: _Operator, sketch: jax.Array, power_iters: int,
                       normalizer: str) -> jax.Array:
    return mT(_range_finder_rows(op, sketch, power_iters, normalizer))


def _flip_signs(Ut: jax.Array, Vh: jax.Array) -> tuple[jax.Array, jax.Array]:
    """scikit-learn's `svd_flip` on the rows of Uᵀ: the largest-|·| entry of each is positive."""
    idx = jnp.argmax(jnp.abs(Ut), axis=-1)[..., None]
    signs = jnp.sign(jnp.take_along_axis(Ut, idx, axis=-1))
    signs = jnp.where(signs == 0, 1, signs).astype(Ut.dtype)
    return Ut * signs, Vh * signs


def _svd_from_sketch_core(op: _Operator, sketch: jax.Array, rank: int, power_iters: int,
                          normalizer: str, flip_sign: bool,
                          transpose: bool) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Rank-`rank` SVD of `op` from a sketch of its range (or of Aᵀ's when `transpose`)."""
    work = op.T if transpose else op
    Qt = _range_finder_rows(work, sketch, power_iters, normalizer)   # Qᵀ, (l, m')
    P, S, Vh = wide_svd(work.rrows(Qt))                              # B = Qᵀ A = P S Vh
    Ut = mm(mT(P[..., :rank]), Qt)                                   # rows of (Q P)ᵀ
    Vh, S = Vh[..., :rank, :], S[..., :rank]
    if transpose:
        Ut, Vh = Vh, Ut
    if flip_sign:
        Ut, Vh = _flip_signs(Ut, Vh)
    return mT(Ut), S, Vh


def _resolve_power_iters(power_iters: int | None, rank: int, m: int, n: int) -> int:
    if power_iters is None:
        return 7 if rank < 0.1 * min(m, n) else 4
    return _validate.check_positive_int(power_iters, "power_iters", allow_zero=True)


def _resolve_normalizer(normalizer: str, power_iters: int) -> str:
    _validate.check_choice(normalizer, "normalizer", ("auto",) + _NORMALIZERS)
    if normalizer == "auto":
        return "none" if power_iters <= 2 else "lu"
    return normalizer


def _check_rank(rank: Any, m: int, n: int) -> int:
    rank = _validate.check_positive_int(rank, "rank")
    if rank > min(m, n):
        raise ValueError(f"`rank` must be <= min(m, n) = {min(m, n)}; got {rank}.")
    return rank


def _check_width(sketch: jax.Array, m: int, n: int) -> None:
    if sketch.shape[-1] > min(m, n):
        raise ValueError(f"`sketch` must have at most min(m, n) = {min(m, n)} columns; got "
                         f"shape {tuple(sketch.shape)}.")


def _broadcast_batch(A: jax.Array, sketch: jax.Array) -> tuple[jax.Array, jax.Array]:
    """A and the sketch with their leading (batch) dimensions broadcast, in one dtype."""
    try:
        batch = jnp.broadcast_shapes(A.shape[:-2], sketch.shape[:-2])
    except ValueError:
        raise ValueError(f"The batch dimensions of `A` {tuple(A.shape)} and `sketch` "
                         f"{tuple(sketch.shape)} do not broadcast.") from None
    dtype = jnp.result_type(A, sketch)
    return (jnp.broadcast_to(A.astype(dtype), (*batch, *A.shape[-2:])),
            jnp.broadcast_to(sketch.astype(dtype), (*batch, *sketch.shape[-2:])))


def _prepare_sketch(sketch: Any) -> jax.Array:
    sketch = _validate.as_float_array(sketch, "sketch", allow_complex=False)
    _validate.check_matrix(sketch, "sketch")
    return sketch


# ------------------------------------------------------------------ public API
def range_finder(A: jax.Array | Callable, sketch: jax.Array, *, power_iters: int = 2,
                 normalizer: str = "qr") -> jax.Array:
    """Orthonormal basis of the dominant range of `A` from the test matrix `sketch`.

    Q = orth((A Aᵀ)^q A Ω), evaluated as q round trips Ω ← norm(Aᵀ norm(A Ω))
    and an orthonormalization of A Ω (Halko, Martinsson & Tropp 2011, Alg. 4.3 / 4.4;
    scikit-learn's `randomized_range_finder` with a given Ω). Deterministic
    given Ω. Cost: (2q + 1) products with an (n, l) block plus O((m + n) l²).

    Args:
      A: dense (..., m, n), or a linear callable mapping shape (n,) to (m,).
      sketch: test matrix Ω, (..., n, l) (batch dims broadcast with A's); 2-D
        for a callable A.
      power_iters: number q of power (subspace) iterations, static.
      normalizer: re-normalization between products: "qr" (an orthonormal
        basis, most accurate), "lu" (a well-conditioned basis of the same span,
        which is what scikit-learn's P·L from a pivoted LU provides; cheaper)
        or "none". Both are computed by shifted Cholesky QR (module docstring).

    Returns:
      Q with orthonormal columns, (..., m, l).
    """
    sketch = _prepare_sketch(sketch)
    power_iters = _validate.check_positive_int(power_iters, "power_iters", allow_zero=True)
    _validate.check_choice(normalizer, "normalizer", _NORMALIZERS)
    if _validate.is_operator(A):
        _validate.check_ndim(sketch, "sketch", ndim=2)
        op = _callable_operator(A, sketch.shape[0], sketch.dtype)
        _check_width(sketch, *op.shape)
        return _range_finder_core(op, sketch, power_iters, normalizer)
    A = _validate.as_float_array(A, "A", allow_complex=False)
    _validate.check_matrix(A, "A")
    _validate.check_same_leading(A, "A", sketch, "sketch", axis_a=-1, axis_b=-2)
    _check_width(sketch, *A.shape[-2:])
    A, sketch = _broadcast_batch(A, sketch)
    return _range_finder_core(_dense_operator(A), sketch, power_iters, normalizer)


def randomized_svd_from_sketch(A: jax.Array | Callable, sketch: jax.Array, rank: int, *,
                               power_iters: int = 2, normalizer: str = "qr",
                               flip_sign: bool = True,
                               shape: tuple[int, int] | None = None) -> SVDResult:
    """Rank-`rank` SVD A ≈ U diag(S) Vh from a given sketch Ω (deterministic given Ω).

    Q = `range_finder(A, Ω)`, B = Qᵀ A = Ũ S Vh, U = Q Ũ, truncated to `rank`
    (Halko, Martinsson & Tropp 2011, Alg. 5.1). The sketch's row count picks
    the side: Ω of shape (n, l) sketches the range of A; Ω of shape (m, l)
    (m ≠ n) sketches the range of Aᵀ, which is the cheaper side for a wide A
    (scikit-learn's `transpose="auto"`). Cost: (2q + 2) block products and
    O((m + n) l²) for the small QR/SVD.

    Args:
      A: dense (..., m, n) or a linear callable (n,) -> (m,).
      sketch: Ω, (..., n, l) or (..., m, l); `rank` <= l.
      rank: number of singular triplets returned, static.
      power_iters: power iterations q, static.
      normalizer: "qr" | "lu" | "none" (see `range_finder`).
      flip_sign: make the largest-|·| entry of each left singular vector
        positive (scikit-learn's `svd_flip`), so the result is deterministic.
      shape: (m, n) of a callable A; only needed to sketch its co-range (Ω of
        shape (m, l)).

    Returns:
      `SVDResult(U (..., m, rank), S (..., rank) descending, Vh (..., rank, n))`.
    """
    sketch = _prepare_sketch(sketch)
    power_iters = _validate.check_positive_int(power_iters, "power_iters", allow_zero=True)
    _validate.check_choice(normalizer, "normalizer", _NORMALIZERS)
    rows, l = sketch.shape[-2:]
    if _validate.is_operator(A):
        _validate.check_ndim(sketch, "sketch", ndim=2)
        if shape is not None:
            m, n = _check_shape_arg(shape)
            transpose = rows == m and rows != n
            if rows not in (m, n):
                raise ValueError(f"`sketch` must have {n} (or {m}) rows for `shape` "
                                 f"{(m, n)}; got shape {tuple(sketch.shape)}.")
            op = _callable_operator(A, n, sketch.dtype, m=m)
        else:
            op, transpose = _callable_operator(A, rows, sketch.dtype), False
        rank = _check_rank(rank, *op.shape)
        _check_width(sketch, *op.shape)
        if rank > l:
            raise ValueError(f"`rank` must be <= the sketch width {l}; got {rank}.")
        return SVDResult(*_svd_from_sketch_core(op, sketch, rank, power_iters, normalizer,
                                                flip_sign, transpose))
    A = _validate.as_float_array(A, "A", allow_complex=False)
    _validate.check_matrix(A, "A")
    m, n = A.shape[-2:]
    if rows not in (m, n):
        raise ValueError(f"`sketch` must have n = {n} rows (or m = {m} to sketch Aᵀ) for "
                         f"`A` of shape {tuple(A.shape)}; got shape {tuple(sketch.shape)}.")
    transpose = rows != n
    rank = _check_rank(rank, m, n)
    _check_width(sketch, m, n)
    if rank > l:
        raise ValueError(f"`rank` must be <= the sketch width {l}; got {rank}.")
    A, sketch = _broadcast_batch(A, sketch)
    return SVDResult(*_svd_from_sketch_core(_dense_operator(A), sketch, rank, power_iters,
                                            normalizer, flip_sign, transpose))


def _operator_and_batch(A: Any, shape: Any, name: str = "A"):
    """(op or None, dense A or None, batch shape, (m, n), dtype) for a dense A or callable."""
    if _validate.is_operator(A):
        m, n = _check_shape_arg(shape)
        op = _callable_operator(A, n, jnp.result_type(float), name, m=m)
        return op, None, (), (m, n), op.dtype
    A = _validate.as_float_array(A, name, allow_complex=False)
    _validate.check_matrix(A, name)
    return None, A, A.shape[:-2], A.shape[-2:], A.dtype


def randomized_svd(key: jax.Array, A: jax.Array | Callable, rank: int, *, oversample: int = 10,
                   power_iters: int | None = None, normalizer: str = "auto",
                   flip_sign: bool = True, shape: tuple[int, int] | None = None) -> SVDResult:
    """Randomized truncated SVD with scikit-learn's options and defaults.

    Draws a Gaussian Ω with l = min(rank + oversample, m, n) columns on the
    cheaper side (rows of Aᵀ when m < n) and calls `randomized_svd_from_sketch`.
    With q power iterations the expected spectral error is within a small
    factor of σ_{rank+1}, shrinking like (σ_{j}/σ_{rank+1})^{-(2q+1)} (HMT 2011,
    Thm. 10.6 / Cor. 10.10). Cost O(mnl(2q + 2)). Reference: Halko, Martinsson &
    Tropp, SIAM Review 53 (2011); scikit-learn `randomized_svd`.

    Args:
      key: `jax.random` key; batched A gets an independent Ω per matrix.
      A: dense (..., m, n) or a linear callable (n,) -> (m,) with `shape`.
      rank: number of singular triplets, static.
      oversample: extra sketch columns p, static.
      power_iters: q; None → 7 if rank < 0.1·min(m, n) else 4 (scikit-learn).
      normalizer: "auto" (none if q <= 2 else "lu") | "qr" | "lu" | "none".
      flip_sign: scikit-learn's `svd_flip` on the left singular vectors.
      shape: (m, n), required when A is a callable.

    Returns:
      `SVDResult(U (..., m, rank), S (..., rank), Vh (..., rank, n))`.
    """
    key = _validate.check_key(key)
    op, dense, batch, (m, n), dtype = _operator_and_batch(A, shape)
    rank = _check_rank(rank, m, n)
    oversample = _validate.check_positive_int(oversample, "oversample", allow_zero=True)
    power_iters = _resolve_power_iters(power_iters, rank, m, n)
    normalizer = _resolve_normalizer(normalizer, power_iters)
    l = min(rank + oversample, m, n)
    side = m if m < n else n
    sketch = jax.random.normal(key, (*batch, side, l), dtype)
    if op is not None:
        return SVDResult(*_svd_from_sketch_core(op, sketch, rank, power_iters, normalizer,
                                                flip_sign, side != n))
    return randomized_svd_from_sketch(dense, sketch, rank, power_iters=power_iters,
                                      normalizer=normalizer, flip_sign=flip_sign)


def _symmetric_operator(A: Any, shape: Any):
    op, dense, batch, (m, n), dtype = _operator_and_batch(A, shape)
    if m != n:
        raise ValueError(f"`A` must be square (..., n, n); got shape {(*batch, m, n)}.")
    return op, dense, batch, n, dtype


def _nystrom_core(matmat: Callable, Omega: jax.Array, rank: int, power_iters: int,
                  method: str) -> tuple[jax.Array, jax.Array]:
    n = Omega.shape[-2]
    Omega = jnp.linalg.qr(Omega)[0]
    Omega = lax.fori_loop(0, power_iters, lambda _, X: jnp.linalg.qr(matmat(X))[0], Omega)
    Y = matmat(Omega)
    if method == "rayleigh_ritz":
        Q = jnp.linalg.qr(Y)[0]
        T = jnp.matmul(Q.T, matmat(Q), precision=_HIGHEST)
        w, Z = jnp.linalg.eigh(0.5 * (T + T.T))
        V = jnp.matmul(Q, Z[:, -rank:], precision=_HIGHEST)
        return w[-rank:], V
    # Stable Nyström (Tropp et al. 2017, Alg. 3): shift by ν so Ωᵀ(Y + νΩ) is PD.
    eps = jnp.finfo(Y.dtype).eps
    nu = jnp.sqrt(jnp.asarray(n, Y.dtype)) * eps * jnp.linalg.norm(Y)
    Y_nu = Y + nu * Omega
    core = jnp.matmul(Omega.T, Y_nu, precision=_HIGHEST)
    C = jnp.linalg.cholesky(0.5 * (core + core.T))
    B = jax.scipy.linalg.solve_triangular(C, Y_nu.T, lower=True).T   # Y_ν C⁻ᵀ
    U, s, _ = jnp.linalg.svd(B, full_matrices=False)
    lam = jnp.maximum(s[:rank] ** 2 - nu, 0.0)
    return lam[::-1], U[:, :rank][:, ::-1]


def randomized_eigh(key: jax.Array, A: jax.Array | Callable, rank: int, *, oversample: int = 10,
                    power_iters: int = 2, method: str = "nystrom",
                    shape: tuple[int, int] | None = None) -> EighResult:
    """Top-`rank` eigenpairs of a symmetric positive semidefinite A, randomized.

    Ω ← orth(A^q Ω) (q QR-normalized power steps), Y = A Ω, then
    * "nystrom": Â = Y (ΩᵀY)⁺ Yᵀ computed stably with a shift ν ≈ √n·eps·‖Y‖:
      C = chol(Ωᵀ(Y + νΩ)), (Y + νΩ) C⁻ᵀ = U Σ Vᵀ, λ = max(Σ² − ν, 0)
      (Tropp, Yurtsever, Udell & Cevher, SIMAX 38 (2017), Alg. 3);
    * "rayleigh_ritz": Q = orth(Y), eig(Qᵀ A Q) (HMT 2011, Alg. 5.3).
    Cost: q + 1 (Nyström) or q + 2 (Rayleigh–Ritz) products with an (n, l) block.

    Not PSD (Nyström): the Cholesky factor has NaNs and so does the result
    (no error under jit). Unlike `jnp.linalg.eigh` only `rank` pairs come back.

    Args:
      key: `jax.random` key.
      A: dense symmetric PSD (..., n, n), or a symmetric linear callable with `shape`.
      rank: number of eigenpairs, static; l = min(rank + oversample, n).
      oversample: extra sketch columns, static.
      power_iters: power steps q, static.
      method: "nystrom" | "rayleigh_ritz".
      shape: (n, n), required for a callable A.

    Returns:
      `EighResult(eigenvalues (..., rank) ascending, eigenvectors (..., n, rank))`.
    """
    key = _validate.check_key(key)
    _validate.check_choice(method, "method", ("nystrom", "rayleigh_ritz"))
    op, dense, batch, n, dtype = _symmetric_operator(A, shape)
    rank = _check_rank(rank, n, n)
    oversample = _validate.check_positive_int(oversample, "oversample", allow_zero=True)
    power_iters = _validate.check_positive_int(power_iters, "power_iters", allow_zero=True)
    l = min(rank + oversample, n)
    Omega = jax.random.normal(key, (*batch, n, l), dtype)
    if op is not None:
        return EighResult(*_nystrom_core(op.matmat, Omega, rank, power_iters, method))
    core = jnp.vectorize(
        lambda a, o: _nystrom_core(lambda X: jnp.matmul(a, X, precision=_HIGHEST), o, rank,
                                   power_iters, method),
        signature="(n,n),(n,l)->(r),(n,r)")
    return EighResult(*core(dense, Omega))


class QLPResult(NamedTuple):
    """Truncated QLP factors: A ≈ Q @ L @ P.T.

    Attributes:
      Q: orthonormal columns, (..., m, rank).
      L: lower triangular, (..., rank, rank); |diag L| (the L-values) track σ_j.
      P: orthonormal columns, (..., n, rank).
    """

    Q: jax.Array
    L: jax.Array
    P: jax.Array


def _ru_qlp_core(op: _Operator, G: jax.Array, rank: int,
                 power_iters: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    # Row-space sample P0 = orth(Aᵀ (A Aᵀ)^q G) with QR re-normalization.
    G = lax.fori_loop(0, power_iters,
                      lambda _, X: jnp.linalg.qr(op.matmat(jnp.linalg.qr(op.rmatmat(X))[0]))[0],
                      G)
    P0 = jnp.linalg.qr(op.rmatmat(G))[0]                  # (n, l)
    Q, R = jnp.linalg.qr(op.matmat(P0))                   # A P0 = Q R, unpivoted
    Pt, Lt = jnp.linalg.qr(R.T)                           # Rᵀ = P̃ Lᵀ  →  R = L P̃ᵀ
    P = jnp.matmul(P0, Pt, precision=_HIGHEST)
    L = Lt.T
    return Q[:, :rank], L[:rank, :rank], P[:, :rank]


def ru_qlp(key: jax.Array, A: jax.Array | Callable, rank: int, *, oversample: int = 10,
           power_iters: int = 1, shape: tuple[int, int] | None = None) -> QLPResult:
    """Randomized unpivoted QLP: A ≈ Q L Pᵀ, L lower triangular (rank-revealing).

    With l = min(rank + oversample, m, n) and Gaussian G (m, l):
    P₀ = orth(Aᵀ (A Aᵀ)^q G), A P₀ = Q R (unpivoted QR), Rᵀ = P̃ Lᵀ (unpivoted
    QR again, i.e. an LQ of R), P = P₀ P̃; so Q L Pᵀ = Q Qᵀ A P₀ P₀ᵀ. The leading
    `rank` block is returned. Random sampling replaces the column pivoting of
    Stewart's pivoted QLP, so everything is unpivoted QR and products.
    Cost O(mnl(2q + 2)) + O((m + n) l²). Reference: Feng, Xiang & Saad,
    "Randomized rank-revealing QLP for low-rank matrix decomposition" (2022);
    G. W. Stewart, "The QLP approximation to the SVD", SISC 20 (1999).

    Args:
      key: `jax.random` key.
      A: dense (..., m, n) or a linear callable with `shape`.
      rank: size of the returned factors, static.
      oversample: extra sample columns, static.
      power_iters: power iterations q, static.
      shape: (m, n), required for a callable A.

    Returns:
      `QLPResult(Q (..., m, rank), L (..., rank, rank), P (..., n, rank))`;
      unpacks as `(Q, L, P)`.
    """
    key = _validate.check_key(key)
    op, dense, batch, (m, n), dtype = _operator_and_batch(A, shape)
    rank = _check_rank(rank, m, n)
    oversample = _validate.check_positive_int(oversample, "oversample", allow_zero=True)
    power_iters = _validate.check_positive_int(power_iters, "power_iters", allow_zero=True)
    l = min(rank + oversample, m, n)
    G = jax.random.normal(key, (*batch, m, l), dtype)
    if op is not None:
        return QLPResult(*_ru_qlp_core(op, G, rank, power_iters))
    core = jnp.vectorize(
        lambda a, g: _ru_qlp_core(_dense_operator(a), g, rank, power_iters),
        signature="(m,n),(m,l)->(m,r),(r,r),(n,r)")
    return QLPResult(*core(dense, G))
