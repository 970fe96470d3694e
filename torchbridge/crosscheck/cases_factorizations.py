"""Cross-check cases for `jaxla.factorizations` and `jaxla.solvers`.

References are float64 NumPy/SciPy (LAPACK): `numpy.linalg.cholesky`,
`scipy.linalg.lu_factor`, `numpy.linalg.qr`, `scipy.linalg.solve_triangular`,
`numpy.linalg.lstsq`, ... Inputs are small and well conditioned (κ ≲ 1e2)
unless a case says otherwise, so the default tolerance eps^(3/4) applies;
cases whose error is amplified by κ scale it and say why.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

import jaxla
from torchbridge import linalg as tl
from torchbridge import testing
from torchbridge.crosscheck.registry import Case, fields, register, values


def _spd(rng, n=12, batch=()):
    x = rng.standard_normal(batch + (n, n))
    return x @ np.swapaxes(x, -1, -2) / n + np.eye(n)


def _general(rng, n=12, batch=()):
    return rng.standard_normal(batch + (n, n)) + 3 * np.eye(n)


# ------------------------------------------------------------ factorizations
register(Case(
    name="cholesky/spd_batch",
    make_inputs=lambda rng: (_spd(rng, 12, (3,)),),
    reference=np.linalg.cholesky,
    jax_fn=lambda a: jaxla.cholesky(a, block_size=4),
    torch_fn=lambda a: tl.cholesky(a, block_size=4),
))

register(Case(
    name="cholesky/blocked_default",
    make_inputs=lambda rng: (_spd(rng, 150),),
    reference=np.linalg.cholesky,
    jax_fn=jaxla.cholesky,
    torch_fn=tl.cholesky,
))

register(Case(
    name="cholesky/not_pd_nan",
    make_inputs=lambda rng: (_spd(rng, 6) - 5 * np.eye(6),),
    reference=lambda a: np.full_like(a, np.nan),
    jax_fn=jaxla.cholesky,
    torch_fn=tl.cholesky,
))

register(Case(
    name="is_positive_definite/mixed",
    make_inputs=lambda rng: (np.stack([_spd(rng, 5), -_spd(rng, 5), _general(rng, 5)]),),
    reference=lambda a: np.array([np.all(np.linalg.eigvalsh(x) > 0) and np.allclose(x, x.T)
                                  for x in a]),
    jax_fn=jaxla.is_positive_definite,
    torch_fn=tl.is_positive_definite,
))


def _ldl_reference(a):
    c = np.linalg.cholesky(a)
    d = np.diagonal(c, axis1=-2, axis2=-1)
    return c / d[..., None, :], d ** 2


register(Case(
    name="ldl/spd",
    make_inputs=lambda rng: (_spd(rng, 10, (2,)),),
    reference=_ldl_reference,
    jax_fn=lambda a: tuple(jaxla.ldl(a)),
    torch_fn=lambda a: tuple(tl.ldl(a)),
))

register(Case(
    name="ldl/semidefinite",
    # rank-4 PSD with integer factor: the reference L, d come from the exact rank-4 structure
    make_inputs=lambda rng: (np.array([[4.0, 2, 2], [2, 1, 1], [2, 1, 5]]),),
    reference=lambda a: (np.array([[1.0, 0, 0], [0.5, 1, 0], [0.5, 0, 1]]), np.array([4.0, 0, 4])),
    jax_fn=lambda a: tuple(jaxla.ldl(a)),
    torch_fn=lambda a: tuple(tl.ldl(a)),
))


def _lu_factor_reference(a):
    lu, piv = scipy.linalg.lu_factor(a)
    return lu, piv.astype(np.int32)


register(Case(
    name="lu_factor/general",
    make_inputs=lambda rng: (rng.standard_normal((40, 40)),),
    reference=_lu_factor_reference,
    jax_fn=lambda a: jaxla.lu_factor(a, block_size=16),
    torch_fn=tl.lu_factor,
))

register(Case(
    name="lu/batch",
    make_inputs=lambda rng: (rng.standard_normal((2, 9, 9)),),
    reference=lambda a: tuple(np.stack(x) for x in zip(*(scipy.linalg.lu(m) for m in a))),
    jax_fn=jaxla.lu,
    torch_fn=tl.lu,
))


def _qr_aligned(result, other, inputs) -> float:
    """Q and R after fixing the sign of each column of Q / row of R by diag(R) >= 0."""
    def fix(q, r):
        q, r = testing.to_numpy(q), testing.to_numpy(r)
        s = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
        s = np.where(s == 0, 1.0, s)
        return q * s[..., None, :], r * s[..., :, None]
    (q1, r1), (q2, r2) = fix(*result), fix(*other)
    return max(testing.relative_error(q1, q2), testing.relative_error(r1, r2))


for _method in ("householder", "mgs", "cgs2"):
    register(Case(
        name=f"qr/{_method}",
        make_inputs=lambda rng: (rng.standard_normal((2, 14, 8)),),
        reference=lambda a: tuple(np.linalg.qr(a)),
        jax_fn=lambda a, m=_method: tuple(jaxla.qr(a, method=m)),
        torch_fn=lambda a, m=_method: tuple(tl.qr(a, method=m)),
        compare=_qr_aligned,
    ))

register(Case(
    name="qr/householder_blocked",
    make_inputs=lambda rng: (rng.standard_normal((150, 70)),),  # two 64-column blocks
    reference=lambda a: tuple(np.linalg.qr(a)),
    jax_fn=lambda a: tuple(jaxla.qr(a)),
    torch_fn=lambda a: tuple(tl.qr(a)),
    compare=_qr_aligned,
))


def _rref_inputs(rng):
    R0 = np.array([[1.0, 2, 0, 0, -1, 3], [0, 0, 1, 0, 2, -2], [0, 0, 0, 1, 1, 4],
                   [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]])
    E = rng.standard_normal((5, 5)) + 3 * np.eye(5)
    return (E @ R0,)


register(Case(
    name="rref/rank3",
    make_inputs=_rref_inputs,
    reference=lambda a: (np.array([[1.0, 2, 0, 0, -1, 3], [0, 0, 1, 0, 2, -2],
                                   [0, 0, 0, 1, 1, 4], [0, 0, 0, 0, 0, 0],
                                   [0, 0, 0, 0, 0, 0]]),
                         np.array([0, 2, 3, -1, -1], np.int32), np.int32(3)),
    jax_fn=lambda a: tuple(jaxla.rref(a)),
    torch_fn=lambda a: tuple(tl.rref(a)),
    compare=fields(_0=values, _1=values, _2=values),
))


# ------------------------------------------------------------------- solvers
for _lower in (True, False):
    for _trans in (False, True):
        register(Case(
            name=f"solve_triangular/{'lower' if _lower else 'upper'}{'_T' if _trans else ''}",
            make_inputs=lambda rng, lo=_lower: (
                (np.tril if lo else np.triu)(rng.standard_normal((20, 20))) + 4 * np.eye(20),
                rng.standard_normal((20, 3))),
            reference=lambda t, b, lo=_lower, tr=_trans: scipy.linalg.solve_triangular(
                t, b, lower=lo, trans=int(tr)),
            jax_fn=lambda t, b, lo=_lower, tr=_trans: jaxla.solve_triangular(
                t, b, lower=lo, trans=tr, block_size=8),
            torch_fn=lambda t, b, lo=_lower, tr=_trans: tl.solve_triangular(
                t, b, lower=lo, trans=tr),
        ))

register(Case(
    name="cho_solve/vector",
    make_inputs=lambda rng: (np.linalg.cholesky(_spd(rng, 12)), rng.standard_normal(12)),
    reference=lambda c, b: scipy.linalg.cho_solve((c, True), b),
    jax_fn=jaxla.cho_solve,
    torch_fn=tl.cho_solve,
))

register(Case(
    name="lu_solve/matrix_rhs",
    make_inputs=lambda rng: (_general(rng, 12), rng.standard_normal((12, 4))),
    reference=lambda a, b: scipy.linalg.lu_solve(scipy.linalg.lu_factor(a), b),
    jax_fn=lambda a, b: jaxla.lu_solve(jaxla.lu_factor(a), b),
    torch_fn=lambda a, b: tl.lu_solve(tl.lu_factor(a), b),
))

for _assume, _make in (("gen", _general), ("pos", _spd), ("auto", _spd)):
    register(Case(
        name=f"solve/{_assume}",
        make_inputs=lambda rng, mk=_make: (mk(rng, 10, (2,)), rng.standard_normal((2, 10))),
        reference=lambda a, b: np.linalg.solve(a, b[..., None])[..., 0],
        jax_fn=lambda a, b, s=_assume: jaxla.solve(a, b, assume_a=s),
        torch_fn=lambda a, b, s=_assume: tl.solve(a, b, assume_a=s),
    ))


def _singular(rng):
    a = rng.standard_normal((8, 4)) @ rng.standard_normal((4, 8))
    return a, rng.standard_normal(8)


register(Case(
    name="solve/auto_singular",
    make_inputs=_singular,
    reference=lambda a, b: np.linalg.pinv(a) @ b,
    jax_fn=lambda a, b: jaxla.solve(a, b, assume_a="auto"),
    torch_fn=lambda a, b: tl.solve(a, b, assume_a="auto"),
    tol={"float32": 2e-5, "float64": 1e-11},  # 3x default: σ_max/σ_4 of the rank-4 part ~ 30
))

register(Case(
    name="lstsq/full_rank",
    make_inputs=lambda rng: (rng.standard_normal((20, 6)), rng.standard_normal((20, 2))),
    reference=lambda a, b: (np.linalg.lstsq(a, b, rcond=None)[0],
                            np.sum((b - a @ np.linalg.lstsq(a, b, rcond=None)[0]) ** 2, 0),
                            np.int32(6), np.linalg.svd(a, compute_uv=False)),
    jax_fn=lambda a, b: tuple(jaxla.lstsq(a, b)),
    torch_fn=lambda a, b: tuple(tl.lstsq(a, b)),
))

register(Case(
    name="lstsq/rank_deficient",
    make_inputs=lambda rng: (rng.standard_normal((15, 3)) @ rng.standard_normal((3, 7)),
                             rng.standard_normal(15)),
    reference=lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0],
    jax_fn=lambda a, b: jaxla.lstsq(a, b).solution,
    torch_fn=lambda a, b: tl.lstsq(a, b).solution,
    tol={"float32": 2e-5, "float64": 1e-11},  # 3x default: σ_max/σ_3 of the rank-3 part ~ 10
))

register(Case(
    name="inv/batch",
    make_inputs=lambda rng: (_general(rng, 9, (2,)),),
    reference=np.linalg.inv,
    jax_fn=jaxla.inv,
    torch_fn=tl.inv,
))

register(Case(
    name="det/batch",
    make_inputs=lambda rng: (_general(rng, 9, (3,)),),
    reference=np.linalg.det,
    jax_fn=jaxla.det,
    torch_fn=tl.det,
))

register(Case(
    name="slogdet/batch",
    make_inputs=lambda rng: (rng.standard_normal((3, 30, 30)),),
    reference=lambda a: tuple(np.linalg.slogdet(a)),
    jax_fn=lambda a: tuple(jaxla.slogdet(a)),
    torch_fn=lambda a: tuple(tl.slogdet(a)),
))

for _p, _pname in ((2, "2"), (1, "1"), (np.inf, "inf"), ("fro", "fro")):
    register(Case(
        name=f"cond/{_pname}",
        make_inputs=lambda rng: (rng.standard_normal((2, 8, 8)),),
        reference=lambda a, p=_p: np.linalg.cond(a, p),
        jax_fn=lambda a, p=_p: jaxla.cond(a, p),
        torch_fn=lambda a, p=_p: tl.cond(a, p),
        tol={"float32": 1e-4},  # κ ~ 1e2 of Gaussian 8×8 amplifies the error of A⁻¹ / σ_min
    ))

register(Case(
    name="matrix_rank/deficient",
    make_inputs=lambda rng: (np.stack([rng.standard_normal((9, r)) @ rng.standard_normal((r, 7))
                                       for r in (2, 5, 7)]),),
    reference=lambda a: np.linalg.matrix_rank(a).astype(np.int32),
    jax_fn=jaxla.matrix_rank,
    torch_fn=tl.matrix_rank,
))

register(Case(
    name="pinv/rank_deficient",
    make_inputs=lambda rng: (rng.standard_normal((10, 3)) @ rng.standard_normal((3, 6)),),
    reference=np.linalg.pinv,
    jax_fn=jaxla.pinv,
    torch_fn=tl.pinv,
    tol={"float32": 2e-5, "float64": 1e-11},  # 3x default: error ~ eps·κ of the rank-3 part
))

register(Case(
    name="checked/cholesky",
    make_inputs=lambda rng: (_spd(rng, 6),),
    reference=np.linalg.cholesky,
    jax_fn=jaxla.checked(jaxla.cholesky),
    torch_fn=tl.checked(tl.cholesky),
    jit=False,  # checkify raises on the host
))
