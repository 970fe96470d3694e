"""Factorizations and solvers: jaxla vs jnp.linalg, NumPy/SciPy and torch.linalg.

    ./dev python benchmarks/factorizations.py                     # n = 1024, 2048
    ./dev python benchmarks/factorizations.py --n_list=512 --cholesky_blocks=64,128,256

float32 on CPU, one process. Each row times one operation at one n: `jaxla`
(jit-compiled, compiled once before timing), the `jnp.linalg` anchor (jit),
NumPy/SciPy (LAPACK) and torch.linalg; wall time is the minimum of
`--repeats` runs after a warm-up (`block_until_ready` for JAX). jaxla and
its jnp.linalg anchor are timed round-robin, so that on a shared, noisy
machine both see the same load. The ratio is jaxla ÷ jnp.linalg (< 1 means
jaxla is faster). Targets (issue 4):
cholesky <= 1.0x at n = 2048; lu_factor + lu_solve <= 1.5x jnp.linalg.solve;
Householder qr <= 2x jnp.linalg.qr. `--cholesky_blocks` adds one jaxla row per
block size so the best one can be picked.
"""

from __future__ import annotations

import _timing  # benchmarks/_timing.py
import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
import torch
from absl import app, flags

import jaxla

_N_LIST = flags.DEFINE_list("n_list", ["1024", "2048"], "Matrix sizes.")
_REPEATS = flags.DEFINE_integer("repeats", 7, "Timed rounds (the minimum is reported).")
_CHOLESKY_BLOCKS = flags.DEFINE_list("cholesky_blocks", ["128"],
                                     "jaxla.cholesky block sizes to time.")
_LU_BLOCKS = flags.DEFINE_list("lu_blocks", ["128"], "jaxla.lu_factor block sizes to time.")
_OPS = flags.DEFINE_list("ops", ["cholesky", "solve", "qr"], "Which rows to run.")


def _best_ms(fn, *args, repeats):
    return _best_ms_interleaved({"fn": (fn, args)}, repeats=repeats)["fn"]


def _best_ms_interleaved(calls, *, repeats):
    """Minimum wall time (ms) of each `name: (fn, args)`, timed in interleaved rounds."""
    best = _timing.interleaved(
        {name: (lambda fn=fn, args=args: jax.block_until_ready(fn(*args)))
         for name, (fn, args) in calls.items()}, repeats)
    return {name: t * 1e3 for name, t in best.items()}


def _row(name, n, ours, anchor, numpy_ms, torch_ms):
    ratio = ours / anchor
    print(f"{name:<34} {n:>5} {ours:>10.1f} {anchor:>10.1f} {numpy_ms:>10.1f} {torch_ms:>10.1f}"
          f" {ratio:>7.2f}x", flush=True)


def main(argv):
    del argv
    torch.set_num_threads(max(1, torch.get_num_threads()))
    reps = _REPEATS.value
    print(f"float32, CPU ({jax.devices()[0].device_kind}), min of {reps} runs, ms; "
          "ratio = jaxla / jnp.linalg")
    print(f"{'operation':<34} {'n':>5} {'jaxla':>10} {'jnp':>10} {'numpy':>10} {'torch':>10}"
          f" {'ratio':>8}")
    for n in (int(v) for v in _N_LIST.value):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, n)).astype(np.float32)
        spd = (x @ x.T / n + np.eye(n, dtype=np.float32)).astype(np.float32)
        b = rng.standard_normal((n, 1)).astype(np.float32)
        spd_j, x_j, b_j = jnp.asarray(spd), jnp.asarray(x), jnp.asarray(b)
        spd_t, x_t, b_t = torch.from_numpy(spd), torch.from_numpy(x), torch.from_numpy(b)

        if "cholesky" in _OPS.value:
            calls = {"jnp": (jax.jit(jnp.linalg.cholesky), (spd_j,))}
            for nb in (int(v) for v in _CHOLESKY_BLOCKS.value):
                calls[nb] = (jax.jit(lambda a, nb=nb: jaxla.cholesky(a, block_size=nb)), (spd_j,))
            ms = _best_ms_interleaved(calls, repeats=reps)
            np_ms = _best_ms(lambda a: scipy.linalg.cholesky(a, lower=True), spd, repeats=reps)
            t_ms = _best_ms(torch.linalg.cholesky, spd_t, repeats=reps)
            for nb in (int(v) for v in _CHOLESKY_BLOCKS.value):
                _row(f"cholesky (block {nb})", n, ms[nb], ms["jnp"], np_ms, t_ms)

        if "solve" in _OPS.value:
            calls = {"jnp": (jax.jit(jnp.linalg.solve), (x_j, b_j)),
                     "gen": (jax.jit(jaxla.solve), (x_j, b_j))}
            for nb in (int(v) for v in _LU_BLOCKS.value):
                calls[nb] = (jax.jit(lambda a, b, nb=nb: jaxla.lu_solve(
                    jaxla.lu_factor(a, block_size=nb), b)), (x_j, b_j))
            ms = _best_ms_interleaved(calls, repeats=reps)
            np_ms = _best_ms(np.linalg.solve, x, b, repeats=reps)
            t_ms = _best_ms(torch.linalg.solve, x_t, b_t, repeats=reps)
            for nb in (int(v) for v in _LU_BLOCKS.value):
                _row(f"lu_factor+lu_solve (block {nb})", n, ms[nb], ms["jnp"], np_ms, t_ms)
            _row("solve (gen)", n, ms["gen"], ms["jnp"], np_ms, t_ms)

        if "qr" in _OPS.value:
            ms = _best_ms_interleaved({"jnp": (jax.jit(jnp.linalg.qr), (x_j,)),
                                       "qr": (jax.jit(jaxla.qr), (x_j,))}, repeats=reps)
            np_ms = _best_ms(np.linalg.qr, x, repeats=reps)
            t_ms = _best_ms(torch.linalg.qr, x_t, repeats=reps)
            _row("qr (householder, reduced)", n, ms["qr"], ms["jnp"], np_ms, t_ms)

if __name__ == "__main__":
    app.run(main)
