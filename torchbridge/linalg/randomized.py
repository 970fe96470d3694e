"""PyTorch twins of `jaxla.randomized`: range finder, randomized SVD, Nyström, RU-QLP.

Written from the math (Halko, Martinsson & Tropp 2011; Tropp et al. 2017;
Feng, Xiang & Saad 2022), in plain PyTorch: Python loops over the (few)
power iterations, `torch.linalg` for the small QR/SVD/LU/Cholesky. Semantics
match `jaxla`: same options and defaults (scikit-learn's), same side choice
from the sketch shape, same sign convention, same result field names.
Randomized functions take `generator=` (a `torch.Generator`) instead of a key.

A linear callable `A(x)`, x: (n,) -> (m,), is applied to blocks with
`torch.func.vmap`; its transpose is the vector-Jacobian product
(`torch.func.vjp`) — exact for a linear map. Functions that draw their own
sketch probe a callable with a vector in `torch.get_default_dtype()` (as
`jaxla` uses the default JAX float); with a sketch, its dtype is used.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from torchbridge.linalg import _validate
from torchbridge.linalg.eigen import EighResult
from torchbridge.linalg.svd import SVDResult


class QLPResult(NamedTuple):
    """A ≈ Q @ L @ P.T with L lower triangular (see `jaxla.ru_qlp`)."""

    Q: torch.Tensor
    L: torch.Tensor
    P: torch.Tensor


# ---------------------------------------------------------------- validation
def _is_callable_operator(A: Any) -> bool:
    return callable(A) and not isinstance(A, torch.Tensor)


def _matrix(x: Any, name: str) -> torch.Tensor:
    return _validate.check_matrix(_validate.as_real(x, name), name)


def _rank(rank: Any, m: int, n: int) -> int:
    rank = _validate.check_positive_int(rank, "rank")
    if rank > min(m, n):
        raise ValueError(f"`rank` must be <= min(m, n) = {min(m, n)}; got {rank}.")
    return rank


def _shape_pair(shape: Any) -> tuple[int, int]:
    if shape is None:
        raise ValueError("`shape` must be given as (m, n) when `A` is a callable.")
    if len(tuple(shape)) != 2:
        raise ValueError(f"`shape` must be a pair (m, n); got {shape!r}.")
    return tuple(_validate.check_positive_int(s, "shape") for s in shape)


# ----------------------------------------------------------------- operators
class _LinearMap:
    """Block products X ↦ A X and Y ↦ Aᵀ Y for a dense tensor or a linear callable."""

    def __init__(self, A: Any, n: int | None = None, dtype=None, device=None) -> None:
        if isinstance(A, torch.Tensor):
            self._dense = A
            self.shape = tuple(A.shape[-2:])
            self.dtype, self.device = A.dtype, A.device
            return
        self._dense = None
        self._fn = A
        dtype = dtype or torch.get_default_dtype()
        probe = torch.zeros(n, dtype=dtype, device=device)
        try:
            out = A(probe)
        except Exception as err:
            raise ValueError(f"`A` is a callable but could not be applied to a vector of "
                             f"shape ({n},): {err}") from err
        if not isinstance(out, torch.Tensor) or out.ndim != 1:
            raise ValueError(f"`A` must map a vector of shape ({n},) to a vector.")
        self.shape = (out.shape[0], n)
        self.dtype, self.device = out.dtype, out.device
        self._probe = probe

    def mm(self, X: torch.Tensor) -> torch.Tensor:
        if self._dense is not None:
            return self._dense @ X
        return torch.func.vmap(self._fn, in_dims=1, out_dims=1)(X)

    def rmm(self, Y: torch.Tensor) -> torch.Tensor:
        if self._dense is not None:
            return self._dense.mT @ Y
        _, pullback = torch.func.vjp(self._fn, self._probe)
        return torch.func.vmap(lambda y: pullback(y)[0], in_dims=1, out_dims=1)(Y)


class _Transposed:
    def __init__(self, op) -> None:
        self._op = op
        self.shape = op.shape[::-1]

    def mm(self, X):
        return self._op.rmm(X)

    def rmm(self, Y):
        return self._op.mm(Y)


def _orth(Y: torch.Tensor) -> torch.Tensor:
    return torch.linalg.qr(Y, mode="reduced").Q


def _renormalize(Y: torch.Tensor, normalizer: str) -> torch.Tensor:
    if normalizer == "qr":
        return _orth(Y)
    if normalizer == "lu":
        P, L, _ = torch.linalg.lu(Y)
        return P @ L
    return Y


def _find_range(op, Omega: torch.Tensor, power_iters: int, normalizer: str) -> torch.Tensor:
    for _ in range(power_iters):
        Omega = _renormalize(op.rmm(_renormalize(op.mm(Omega), normalizer)), normalizer)
    return _orth(op.mm(Omega))


def _svd_flip(U: torch.Tensor, Vh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Make the largest-magnitude entry of every column of U positive."""
    pick = U.abs().argmax(dim=-2, keepdim=True)
    sign = torch.gather(U, -2, pick).sign()
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    return U * sign, Vh * sign.mT


# ------------------------------------------------------------------ public API
def range_finder(A, sketch: torch.Tensor, *, power_iters: int = 2,
                 normalizer: str = "qr") -> torch.Tensor:
    """Orthonormal Q ≈ range of A: Q = orth((A Aᵀ)^q A Ω), deterministic given Ω."""
    sketch = _matrix(sketch, "sketch")
    power_iters = _validate.check_positive_int(power_iters, "power_iters", allow_zero=True)
    _validate.check_choice(normalizer, "normalizer", ("qr", "lu", "none"))
    if _is_callable_operator(A):
        _validate.check_ndim(sketch, "sketch", ndim=2)
        op = _LinearMap(A, sketch.shape[0], sketch.dtype, sketch.device)
        return _find_range(op, sketch, power_iters, normalizer)
    A = _matrix(A, "A")
    if A.shape[-1] != sketch.shape[-2]:
        raise ValueError(f"`sketch` has shape {tuple(sketch.shape)}, incompatible with `A` "
                         f"of shape {tuple(A.shape)}.")
    dtype = torch.promote_types(A.dtype, sketch.dtype)
    return _find_range(_LinearMap(A.to(dtype)), sketch.to(dtype), power_iters, normalizer)


def _svd_with_sketch(op, Omega, rank, power_iters, normalizer, flip_sign, co_range):
    side = _Transposed(op) if co_range else op
    Q = _find_range(side, Omega, power_iters, normalizer)
    B = side.rmm(Q).mT                                   # Qᵀ A_side, (l, n')
    Ub, S, Vh = torch.linalg.svd(B, full_matrices=False)
    U = (Q @ Ub)[..., :rank]
    S, Vh = S[..., :rank], Vh[..., :rank, :]
    if co_range:                                         # A_side = Aᵀ
        U, Vh = Vh.mT, U.mT
    if flip_sign:
        U, Vh = _svd_flip(U, Vh)
    return SVDResult(U, S, Vh)


def randomized_svd_from_sketch(A, sketch: torch.Tensor, rank: int, *, power_iters: int = 2,
                               normalizer: str = "qr", flip_sign: bool = True,
                               shape: tuple[int, int] | None = None) -> SVDResult:
    """Rank-`rank` SVD from the test matrix Ω: (n, l) sketches A, (m, l) with m ≠ n sketches Aᵀ."""
    sketch = _matrix(sketch, "sketch")
    power_iters = _validate.check_positive_int(power_iters, "power_iters", allow_zero=True)
    _validate.check_choice(normalizer, "normalizer", ("qr", "lu", "none"))
    rows, width = sketch.shape[-2:]
    if _is_callable_operator(A):
        if shape is None:
            op, co_range = _LinearMap(A, rows, sketch.dtype, sketch.device), False
        else:
            m, n = _shape_pair(shape)
            if rows not in (m, n):
                raise ValueError(f"`sketch` must have {n} (or {m}) rows for `shape` "
                                 f"{(m, n)}; got shape {tuple(sketch.shape)}.")
            op, co_range = _LinearMap(A, n, sketch.dtype, sketch.device), rows != n
    else:
        A = _matrix(A, "A")
        m, n = A.shape[-2:]
        if rows not in (m, n):
            raise ValueError(f"`sketch` must have n = {n} rows (or m = {m} to sketch Aᵀ) for "
                             f"`A` of shape {tuple(A.shape)}; got shape {tuple(sketch.shape)}.")
        dtype = torch.promote_types(A.dtype, sketch.dtype)
        op, co_range = _LinearMap(A.to(dtype)), rows != n
        sketch = sketch.to(dtype)
    rank = _rank(rank, *op.shape)
    if rank > width:
        raise ValueError(f"`rank` must be <= the sketch width {width}; got {rank}.")
    return _svd_with_sketch(op, sketch, rank, power_iters, normalizer, flip_sign, co_range)


def _operator(A, shape):
    if _is_callable_operator(A):
        m, n = _shape_pair(shape)
        op = _LinearMap(A, n)
        if op.shape[0] != m:
            raise ValueError(f"`A` maps ({n},) to ({op.shape[0]},), but `shape` says {(m, n)}.")
        return op, (), op.dtype, op.device
    A = _matrix(A, "A")
    return _LinearMap(A), tuple(A.shape[:-2]), A.dtype, A.device


def randomized_svd(A, rank: int, *, oversample: int = 10, power_iters: int | None = None,
                   normalizer: str = "auto", flip_sign: bool = True,
                   shape: tuple[int, int] | None = None,
                   generator: torch.Generator | None = None) -> SVDResult:
    """Randomized truncated SVD with scikit-learn's defaults (see `jaxla.randomized_svd`)."""
    op, batch, dtype, device = _operator(A, shape)
    m, n = op.shape
    rank = _rank(rank, m, n)
    oversample = _validate.check_positive_int(oversample, "oversample", allow_zero=True)
    if power_iters is None:
        power_iters = 7 if rank < 0.1 * min(m, n) else 4
    power_iters = _validate.check_positive_int(power_iters, "power_iters", allow_zero=True)
    _validate.check_choice(normalizer, "normalizer", ("auto", "qr", "lu", "none"))
    if normalizer == "auto":
        normalizer = "none" if power_iters <= 2 else "lu"
    width = min(rank + oversample, m, n)
    co_range = m < n
    Omega = torch.randn(*batch, m if co_range else n, width, dtype=dtype, device=device,
                        generator=generator)
    return _svd_with_sketch(op, Omega, rank, power_iters, normalizer, flip_sign, co_range)


def randomized_eigh(A, rank: int, *, oversample: int = 10, power_iters: int = 2,
                    method: str = "nystrom", shape: tuple[int, int] | None = None,
                    generator: torch.Generator | None = None) -> EighResult:
    """Top-`rank` eigenpairs of a PSD matrix (Nyström or Rayleigh–Ritz), ascending."""
    _validate.check_choice(method, "method", ("nystrom", "rayleigh_ritz"))
    op, batch, dtype, device = _operator(A, shape)
    n = op.shape[0]
    if op.shape[0] != op.shape[1]:
        raise ValueError(f"`A` must be square (..., n, n); got shape {(*batch, *op.shape)}.")
    rank = _rank(rank, n, n)
    oversample = _validate.check_positive_int(oversample, "oversample", allow_zero=True)
    power_iters = _validate.check_positive_int(power_iters, "power_iters", allow_zero=True)
    width = min(rank + oversample, n)
    Omega = _orth(torch.randn(*batch, n, width, dtype=dtype, device=device, generator=generator))
    for _ in range(power_iters):
        Omega = _orth(op.mm(Omega))
    Y = op.mm(Omega)
    if method == "rayleigh_ritz":
        Q = _orth(Y)
        T = Q.mT @ op.mm(Q)
        vals, vecs = torch.linalg.eigh((T + T.mT) / 2)
        return EighResult(vals[..., -rank:], Q @ vecs[..., -rank:])
    # Shifted Nyström: Â = Y_ν (Ωᵀ Y_ν)⁻¹ Y_νᵀ − ν I, factored through Cholesky.
    shift = (n ** 0.5) * torch.finfo(Y.dtype).eps * torch.linalg.matrix_norm(Y, keepdim=True)
    Y_shift = Y + shift * Omega
    core = Omega.mT @ Y_shift
    C, info = torch.linalg.cholesky_ex((core + core.mT) / 2)
    failed = (info != 0)[..., None, None]
    # Not PSD: the factorization failed; return NaN as jaxla does (torch's SVD
    # would raise on NaN input, so factor an identity in its place first).
    C = torch.where(failed, torch.eye(width, dtype=C.dtype, device=C.device), C)
    F = torch.linalg.solve_triangular(C, Y_shift.mT, upper=False).mT
    U, sigma, _ = torch.linalg.svd(F, full_matrices=False)
    vals = (sigma[..., :rank] ** 2 - shift[..., 0]).clamp_min(0)
    vals = torch.where(failed[..., 0], torch.nan, vals)
    U = torch.where(failed, torch.nan, U[..., :rank])
    return EighResult(vals.flip(-1), U.flip(-1))


def ru_qlp(A, rank: int, *, oversample: int = 10, power_iters: int = 1,
           shape: tuple[int, int] | None = None,
           generator: torch.Generator | None = None) -> QLPResult:
    """Randomized unpivoted QLP A ≈ Q L Pᵀ (see `jaxla.ru_qlp`)."""
    op, batch, dtype, device = _operator(A, shape)
    m, n = op.shape
    rank = _rank(rank, m, n)
    oversample = _validate.check_positive_int(oversample, "oversample", allow_zero=True)
    power_iters = _validate.check_positive_int(power_iters, "power_iters", allow_zero=True)
    width = min(rank + oversample, m, n)
    G = torch.randn(*batch, m, width, dtype=dtype, device=device, generator=generator)
    for _ in range(power_iters):
        G = _orth(op.mm(_orth(op.rmm(G))))
    P0 = _orth(op.rmm(G))
    Q, R = torch.linalg.qr(op.mm(P0))
    Pt, Lt = torch.linalg.qr(R.mT)
    P = P0 @ Pt
    return QLPResult(Q[..., :rank], Lt.mT[..., :rank, :rank], P[..., :rank])
