"""Cost of JAX <-> torch conversion: DLPack (zero-copy) vs a NumPy round-trip copy.

    ./dev python benchmarks/bridge.py [--sizes_mb=1,16,256] [--repeats=20]

For each size, times `to_torch(x)` and `to_jax(t)` (zero-copy through DLPack)
and the copying path most code uses today (`torch.from_numpy(np.array(x))`,
`jnp.array(t.numpy())`), all in one process, and prints the ratios.
"""

from __future__ import annotations

import _timing  # benchmarks/_timing.py
import jax
import jax.numpy as jnp
import numpy as np
import torch
from absl import app, flags

from torchbridge import to_jax, to_torch

_SIZES = flags.DEFINE_list("sizes_mb", ["1", "16", "256"], "Array sizes in MB (float32).")
_REPEATS = flags.DEFINE_integer("repeats", 20, "Timed repetitions (the minimum is reported).")


def _best(fn, repeats: int) -> float:
    return _timing.best_of(fn, repeats)[0]


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e6:10.1f} us" if seconds < 1e-2 else f"{seconds * 1e3:10.1f} ms"


def main(argv):
    del argv
    print(f"jax {jax.__version__} ({jax.default_backend()}), torch {torch.__version__}")
    print(f"{'size':>8s} {'to_torch':>13s} {'numpy copy':>13s} {'ratio':>8s}   "
          f"{'to_jax':>13s} {'numpy copy':>13s} {'ratio':>8s}")
    for mb in (int(s) for s in _SIZES.value):
        n = mb * 2**20 // 4
        x = jnp.arange(n, dtype=jnp.float32).block_until_ready()
        t = torch.arange(n, dtype=torch.float32)
        reps = _REPEATS.value if mb < 64 else max(3, _REPEATS.value // 4)
        # Zero-copy paths (pointer equality asserted, so nothing is copied).
        assert to_torch(x).data_ptr() == x.unsafe_buffer_pointer()
        assert to_jax(t).unsafe_buffer_pointer() == t.data_ptr()
        t_to_torch = _best(lambda x=x: to_torch(x), reps)
        t_copy_to_torch = _best(lambda x=x: torch.from_numpy(np.array(x)), reps)
        t_to_jax = _best(lambda t=t: to_jax(t).block_until_ready(), reps)
        t_copy_to_jax = _best(lambda t=t: jnp.array(t.numpy()).block_until_ready(), reps)
        print(f"{mb:6d}MB {_fmt(t_to_torch)} {_fmt(t_copy_to_torch)} "
              f"{t_copy_to_torch / t_to_torch:7.0f}x   {_fmt(t_to_jax)} {_fmt(t_copy_to_jax)} "
              f"{t_copy_to_jax / t_to_jax:7.0f}x")


if __name__ == "__main__":
    app.run(main)
