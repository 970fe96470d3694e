"""Eigen-solvers: jaxla vs SciPy ARPACK, torch.lobpcg and LAPACK eigh, one process.

1. Top-10 eigenpairs of a dense 2000×2000 symmetric float32 matrix with
   spectrum λ_i = exp(−i/decay) in a random basis (tiny relative gaps near
   λ_10): `scipy.sparse.linalg.eigsh(k=10)` (ARPACK, the anchor),
   `jaxla.lanczos_eigsh` in every configuration of --lanczos_configs (block
   size × steps; block size 1 is single-vector Lanczos), `torch.lobpcg` and
   `jnp.linalg.eigh` (full decomposition). Residual: max_i ‖Av_i − λ_i v_i‖ / λ_1
   in float64 with the unrounded matrix, the same for every method. eigsh and
   the Lanczos configurations are timed in interleaved rounds (min of
   --topk_repeats), so load changes hit them alike. The summary line picks the
   fastest configuration whose residual is <= eigsh's both from the timed start
   and from --starts other random starts (Lanczos has no tolerance: its
   accuracy is set by the static number of steps, so a configuration that
   matches from one lucky start only does not count).
2. `jaxla.eigh_qr` vs `jnp.linalg.eigh` (and `torch.linalg.eigh`) on a batch of
   1024 symmetric 32×32 matrices and on one 512×512, float32.

    python benchmarks/eigen.py                     # the issue's sizes
    python benchmarks/eigen.py --n=500 --batch=64  # quick
"""

from __future__ import annotations

import _timing  # benchmarks/_timing.py
import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse.linalg
import torch
from absl import app, flags

import jaxla

_N = flags.DEFINE_integer("n", 2000, "size of the dense symmetric matrix for top-k")
_K = flags.DEFINE_integer("k", 10, "number of eigenpairs")
_DECAY = flags.DEFINE_float("decay", 50.0, "λ_i = exp(-i / decay)")
_CONFIGS = flags.DEFINE_list(
    "lanczos_configs",
    ["1x60", "1x75", "1x80", "4x25", "6x20", "8x16", "8x17", "10x15", "12x13", "16x10",
     "16x11", "16xdefault", "20x10", "24x9"],
    "jaxla.lanczos_eigsh configurations BxS: start block of B columns (1 = a start "
    "vector) and S = num_iters (block steps; Krylov dimension B·S), or Bxdefault")
_TOPK_REPEATS = flags.DEFINE_integer("topk_repeats", 7, "interleaved timing rounds, part 1")
_STARTS = flags.DEFINE_integer("starts", 3, "other random start blocks for the chosen config")
_BATCH = flags.DEFINE_integer("batch", 1024, "batch size for the 32x32 eigh_qr case")
_SMALL = flags.DEFINE_integer("small", 32, "matrix size in the batch")
_BIG = flags.DEFINE_integer("big", 512, "single-matrix size for eigh_qr")
_REPEATS = flags.DEFINE_integer("repeats", 3, "timed repeats (min is reported)")
_EIGH_REPEATS = flags.DEFINE_integer("eigh_repeats", 7, "interleaved timing rounds, part 2")


def _residual(A64, w, V):
    w, V = np.asarray(w, np.float64), np.asarray(V, np.float64)
    V = V / np.linalg.norm(V, axis=0)
    return float(np.max(np.linalg.norm(A64 @ V - V * w, axis=0)) / np.max(np.abs(w)))


def _row(name, seconds, resid, ref):
    print(f"{name:34s} {1e3 * seconds:10.1f} {resid:12.2e} {seconds / ref:9.3f}")


def _lanczos_fn(config, k):
    b, s = config.split("x")
    num_iters = None if s == "default" else int(s)
    fn = jax.jit(lambda a, v: jaxla.lanczos_eigsh(a, v, k, num_iters=num_iters))
    label = f"B={b} × {s} steps" if b != "1" else f"vector, m={s}"
    return int(b), label, fn


def _start(rng, n, b):
    shape = (n,) if b == 1 else (n, b)
    return jnp.asarray(rng.standard_normal(shape).astype(np.float32))


def top_k(n, k, decay, configs, repeats, topk_repeats, starts):
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A64 = (Q * np.exp(-np.arange(n) / decay)) @ Q.T
    A64 = 0.5 * (A64 + A64.T)
    A = A64.astype(np.float32)
    v0 = rng.standard_normal(n).astype(np.float32)
    print(f"\n== top-{k} of a dense {n}×{n} symmetric float32 matrix, λ_i = exp(-i/{decay:g}); "
          f"{jax.devices()[0].platform}, torch threads {torch.get_num_threads()}")
    print(f"{'method':34s} {'time [ms]':>10s} {'residual':>12s} {'÷ eigsh':>9s}")

    products = [0]

    def counted(x):
        products[0] += 1
        return A @ x

    op = scipy.sparse.linalg.LinearOperator((n, n), matvec=counted, dtype=np.float32)
    scipy.sparse.linalg.eigsh(op, k=k, which="LA", v0=v0)  # untimed: count products with A

    # eigsh and every Lanczos configuration: warm up (compile), then interleaved rounds
    Aj = jnp.asarray(A)
    runs = {"eigsh": lambda: scipy.sparse.linalg.eigsh(A, k=k, which="LA", v0=v0)}
    labels = {"eigsh": f"scipy eigsh (ARPACK, {products[0]} A·x)"}
    for config in configs:
        b, label, fn = _lanczos_fn(config, k)
        x0 = _start(np.random.default_rng(1), n, b)
        runs[config] = lambda fn=fn, x0=x0: jax.block_until_ready(fn(Aj, x0))
        labels[config] = f"jaxla lanczos {label}"
    results = {name: run() for name, run in runs.items()}
    best = _timing.interleaved(runs, topk_repeats)
    resid = {name: _residual(A64, *out) for name, out in results.items()}
    t_eigsh, r_eigsh = best["eigsh"], resid["eigsh"]
    for name in runs:
        _row(labels[name], best[name], resid[name], t_eigsh)

    At = torch.from_numpy(A)
    X0 = torch.from_numpy(rng.standard_normal((n, 2 * k)).astype(np.float32))
    t, (w, V) = _timing.best_of(lambda: torch.lobpcg(At, k=k, X=X0, largest=True, tol=1e-5,
                                                    niter=200), repeats)
    _row("torch.lobpcg (tol=1e-5)", t, _residual(A64, w.numpy(), V.numpy()), t_eigsh)
    eigh = jax.jit(jnp.linalg.eigh)
    t, (w, V) = _timing.best_of(lambda: jax.block_until_ready(eigh(Aj)), repeats)
    _row("jnp.linalg.eigh (all n)", t, _residual(A64, w[-k:], V[:, -k:]), t_eigsh)

    # the fastest configuration at eigsh's residual, from this start and from others
    for c in sorted((c for c in configs if resid[c] <= r_eigsh), key=best.get):
        b, label, fn = _lanczos_fn(c, k)
        others = [_residual(A64, *fn(Aj, _start(np.random.default_rng(seed), n, b)))
                  for seed in range(2, 2 + starts)]
        if others and max(others) > r_eigsh:
            print(f"   (lanczos {label}: {best[c] / t_eigsh:.3f}× eigsh's time, but from "
                  f"{starts} other random starts residual {min(others):.2e}…{max(others):.2e})")
            continue
        print(f"-> lanczos {label} matches eigsh's residual ({resid[c]:.2e} <= {r_eigsh:.2e}"
              + (f"; {max(others):.2e} at worst from {starts} other random starts" if others
                 else "") + f") at {best[c] / t_eigsh:.3f}× eigsh's time (target <= 0.25×)")
        return
    print(f"-> no lanczos configuration reaches eigsh's residual {r_eigsh:.2e} from every start")


def _eigh_residual(A64, w, V):
    w, V = np.asarray(w, np.float64), np.asarray(V, np.float64)
    num = np.linalg.norm(A64 @ V - V * w[..., None, :], axis=(-2, -1))
    return float(np.max(num / np.linalg.norm(A64, axis=(-2, -1))))


def eigh_case(shape, repeats, seed=1):
    """Time jnp / jaxla / torch eigh in interleaved rounds (min of each), so a
    burst of load on a shared machine hits all three alike."""
    X = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    A = X + np.swapaxes(X, -1, -2)
    A64, Aj, At = A.astype(np.float64), jnp.asarray(A), torch.from_numpy(A)
    label = "×".join(map(str, shape))
    ref_fn, ours = jax.jit(jnp.linalg.eigh), jax.jit(jaxla.eigh_qr)
    fns = {"jnp.linalg.eigh": lambda: jax.block_until_ready(ref_fn(Aj)),
           "jaxla.eigh_qr": lambda: jax.block_until_ready(ours(Aj)),
           "torch.linalg.eigh": lambda: torch.linalg.eigh(At)}
    outs = {name: fn() for name, fn in fns.items()}
    best = _timing.interleaved(fns, repeats)
    t_ref = best["jnp.linalg.eigh"]
    for name, (w, V) in outs.items():
        _row(f"{name} {label}", best[name], _eigh_residual(A64, np.asarray(w), np.asarray(V)),
             t_ref)
    return best["jaxla.eigh_qr"] / t_ref


def eigh_cases(batch, small, big, repeats):
    print("\n== eigh_qr vs LAPACK eigh, float32")
    print(f"{'case':34s} {'time [ms]':>10s} {'residual':>12s} {'÷ jnp eigh':>9s}")
    ratio_batch = eigh_case((batch, small, small), repeats)
    ratio_big = eigh_case((big, big), repeats)
    print(f"-> eigh_qr ÷ jnp.linalg.eigh: {batch}×{small}×{small} {ratio_batch:.2f}× "
          f"(target <= 2×), {big}×{big} {ratio_big:.2f}× (target <= 10×)")


def main(argv):
    del argv
    top_k(_N.value, _K.value, _DECAY.value, _CONFIGS.value, _REPEATS.value,
          _TOPK_REPEATS.value, _STARTS.value)
    eigh_cases(_BATCH.value, _SMALL.value, _BIG.value, _EIGH_REPEATS.value)


if __name__ == "__main__":
    app.run(main)
