"""Randomized SVD: jaxla vs torch.svd_lowrank vs scikit-learn vs full SVD, one process.

Float32, an m×n matrix with a decaying spectrum σ_i = exp(−i/decay), rank k,
oversampling p, q power iterations. Each method's spectral error
‖A − U S Vᵀ‖₂ (power-method estimate, float64) is printed next to σ_{k+1}.
The "product floor" is the time of the same 2q + 2 block products with an
(n, k + p) block alone, measured in the same run: no randomized SVD can beat it.
It is the faster of two layouts of the same products: column blocks (A @ X,
Aᵀ @ Y, as written in the textbook) and row blocks (Xᵀ Aᵀ, Yᵀ A, which
`jaxla.randomized_svd` uses because XLA:CPU runs them faster). The last columns
give each method's time over the floor and its spectral error over σ_{k+1}.
torch.svd_lowrank gets the same q = k + p columns and niter = power_iters
(2q + 2 products, QR between them) and is truncated to rank k; scikit-learn
gets the same n_oversamples and n_iter.

    python benchmarks/randomized.py                      # 4000×2000, k=50, q=4
    python benchmarks/randomized.py --m=1000 --n=1000 --power_iters=-1   # notes' case
"""

from __future__ import annotations

import functools

import _timing  # benchmarks/_timing.py
import jax
import jax.numpy as jnp
import numpy as np
import torch
from absl import app, flags
from sklearn.utils.extmath import randomized_svd as sk_randomized_svd

import jaxla

_M = flags.DEFINE_integer("m", 4000, "rows")
_N = flags.DEFINE_integer("n", 2000, "columns")
_RANK = flags.DEFINE_integer("rank", 50, "target rank k")
_OVERSAMPLE = flags.DEFINE_integer("oversample", 10, "oversampling p")
_POWER = flags.DEFINE_integer("power_iters", 4, "power iterations q (-1: sklearn's default)")
_DECAY = flags.DEFINE_float("decay", 25.0, "σ_i = exp(-i / decay)")
_REPEATS = flags.DEFINE_integer("repeats", 5, "timed repeats (min is reported)")
_FULL = flags.DEFINE_bool("full_svd", True, "also time the full jnp.linalg.svd")
_SECOND = flags.DEFINE_bool("notes_case", True, "also run the 1000×1000, rank-50 case")


def _timeit(fn, repeats):
    return _timing.best_of(fn, repeats)[0]


def _spectral_error(A64, U, S, Vh, iters=40):
    """‖A − U diag(S) Vh‖₂ by the power method, never forming the difference."""
    U, S, Vh = (np.asarray(x, np.float64) for x in (U, S, Vh))
    v = np.random.default_rng(0).standard_normal(A64.shape[1])
    est = 0.0
    for _ in range(iters):
        v /= np.linalg.norm(v)
        w = A64 @ v - U @ (S * (Vh @ v))
        est = np.linalg.norm(w)
        v = A64.T @ w - Vh.T @ (S * (U.T @ w))
    return est


def _test_matrix(m, n, decay, seed=0):
    rng = np.random.default_rng(seed)
    k = min(m, n)
    U, _ = np.linalg.qr(rng.standard_normal((m, k)).astype(np.float32))
    V, _ = np.linalg.qr(rng.standard_normal((n, k)).astype(np.float32))
    s = np.exp(-np.arange(k) / decay)
    A = (U * s.astype(np.float32)) @ V.T
    return A.astype(np.float32), s


def run(m, n, rank, oversample, power_iters, decay, repeats, full_svd):
    A, s = _test_matrix(m, n, decay)
    A64 = A.astype(np.float64)
    q = power_iters if power_iters >= 0 else (7 if rank < 0.1 * min(m, n) else 4)
    width = rank + oversample
    print(f"\n== {m}×{n} float32, rank {rank}, oversample {oversample}, power_iters {q}, "
          f"σ_k+1 = {s[rank]:.3e}; {jax.devices()[0].platform}, "
          f"torch threads {torch.get_num_threads()}")
    rows = []

    Aj = jnp.asarray(A)
    key = jax.random.key(0)
    ours = jax.jit(functools.partial(jaxla.randomized_svd, rank=rank, oversample=oversample,
                                     power_iters=q))
    t = _timeit(lambda: jax.block_until_ready(ours(key, Aj)), repeats)
    rows.append(("jaxla.randomized_svd (LU)" if q > 2 else "jaxla.randomized_svd",
                 t, _spectral_error(A64, *ours(key, Aj))))
    ours_qr = jax.jit(functools.partial(jaxla.randomized_svd, rank=rank, oversample=oversample,
                                        power_iters=q, normalizer="qr"))
    t = _timeit(lambda: jax.block_until_ready(ours_qr(key, Aj)), repeats)
    rows.append(("jaxla.randomized_svd (QR)", t, _spectral_error(A64, *ours_qr(key, Aj))))

    # The same 2q + 2 products alone (each depends on the previous one), on the
    # cheaper side (sketching Aᵀ when m < n, as the randomized SVDs do).
    hi = jax.lax.Precision.HIGHEST

    @jax.jit
    def floor_columns(A, X):
        Y = jnp.matmul(A, X, precision=hi)
        for _ in range(q):
            X = jnp.matmul(A.T, Y, precision=hi)
            Y = jnp.matmul(A, X, precision=hi)
        return jnp.matmul(A.T, Y, precision=hi)

    @functools.partial(jax.jit, static_argnums=2)
    def floor_rows(A, X, eigen):
        # eigen: Yᵀ A on a materialized (m, l) Y, which XLA:CPU sends to its Eigen dot
        # instead of YNNPACK (jaxla does so for A with >= 2²¹ entries).
        if eigen:
            rmul = lambda Y: jax.lax.dot_general(  # noqa: E731
                jax.lax.optimization_barrier(Y.T), A, (((0,), (0,)), ((), ())), precision=hi)
        else:
            rmul = lambda Y: jnp.matmul(Y, A, precision=hi)  # noqa: E731
        X = X.T
        Y = jax.lax.dot_general(X, A, (((1,), (1,)), ((), ())), precision=hi)
        for _ in range(q):
            X = rmul(Y)
            Y = jax.lax.dot_general(X, A, (((1,), (1,)), ((), ())), precision=hi)
        return rmul(Y)

    Af = Aj if m >= n else Aj.T
    X0 = jax.random.normal(key, (Af.shape[1], width), jnp.float32)
    floor_name = f"product floor ({2 * q + 2})"
    floors = []
    for label, fn in [("columns", lambda: floor_columns(Af, X0)),
                      ("rows", lambda: floor_rows(Af, X0, False)),
                      ("rows + Eigen", lambda: floor_rows(Af, X0, True))]:
        floors.append(_timeit(lambda fn=fn: jax.block_until_ready(fn()), repeats))
        rows.append((f"{floor_name}, {label}", floors[-1], np.nan))
    t_floor = min(floors)

    At = torch.from_numpy(A)
    torch.manual_seed(0)

    def torch_run():
        U, S, V = torch.svd_lowrank(At, q=width, niter=q)
        return U[:, :rank], S[:rank], V[:, :rank].mT

    t = _timeit(torch_run, repeats)
    rows.append(("torch.svd_lowrank", t, _spectral_error(A64, *torch_run())))

    def sk_run():
        return sk_randomized_svd(A, rank, n_oversamples=oversample, n_iter=q, random_state=0)

    t = _timeit(sk_run, max(1, repeats // 2))
    rows.append(("sklearn randomized_svd", t, _spectral_error(A64, *sk_run())))

    if full_svd:
        full = jax.jit(lambda A: jnp.linalg.svd(A, full_matrices=False))
        t = _timeit(lambda: jax.block_until_ready(full(Aj)), 1)
        U, S, Vh = full(Aj)
        rows.append(("jnp.linalg.svd (full)", t,
                     _spectral_error(A64, U[:, :rank], S[:rank], Vh[:rank])))

    t_ours = rows[0][1]
    print(f"{'method':34s} {'time [ms]':>10s} {'ours/this':>10s} {'this/floor':>10s} "
          f"{'‖A−USVᵀ‖₂':>11s} {'/σ_k+1':>8s}")
    for name, t, err in rows:
        rel = f"{err / s[rank]:8.4f}" if np.isfinite(err) else f"{'-':>8s}"
        print(f"{name:34s} {1e3 * t:10.2f} {t_ours / t:10.3f} {t / t_floor:10.3f} "
              f"{err:11.3e} {rel}")
    return rows


def main(argv):
    del argv
    run(_M.value, _N.value, _RANK.value, _OVERSAMPLE.value, _POWER.value, _DECAY.value,
        _REPEATS.value, _FULL.value)
    if _SECOND.value:
        run(1000, 1000, 50, 10, -1, _DECAY.value, _REPEATS.value, True)


if __name__ == "__main__":
    app.run(main)
