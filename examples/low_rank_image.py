"""Low-rank approximation of a photograph with jaxla.randomized_svd.

The image is scikit-learn's bundled sample `china.jpg` (427×640, read with
`sklearn.datasets.load_sample_image`; it ships inside the package, no
download), converted to grey levels in [0, 1]. For each rank we compare the
randomized SVD's relative Frobenius error with the optimal one (the truncated
full SVD, Eckart–Young), time both, and write one PNG: error vs rank and the
reconstructions.

    python examples/low_rank_image.py --ranks=5,20,50,100 --out_dir=/tmp/jaxla_examples
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from absl import app, flags
from sklearn.datasets import load_sample_image

import jaxla

_IMAGE = flags.DEFINE_enum("image", "china.jpg", ["china.jpg", "flower.jpg"], "sample image")
_RANKS = flags.DEFINE_list("ranks", ["5", "20", "50", "100"], "ranks to reconstruct")
_DOWNSAMPLE = flags.DEFINE_integer("downsample", 1, "keep every n-th pixel (smaller, faster)")
_POWER_ITERS = flags.DEFINE_integer(
    "power_iters", -1, "power iterations of randomized_svd (-1: scikit-learn's default, 7 or 4)")
_REPEATS = flags.DEFINE_integer("repeats", 3, "timed repeats (min is reported)")
_OUT_DIR = flags.DEFINE_string("out_dir", "/tmp/jaxla_examples", "where the PNG goes")


def _best_time(fn, repeats):
    jax.block_until_ready(fn())                                   # compile / warm up
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv):
    del argv
    rgb = load_sample_image(_IMAGE.value)[:: _DOWNSAMPLE.value, :: _DOWNSAMPLE.value]
    img = (rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)) / 255.0
    A = jnp.asarray(img)
    m, n = img.shape
    ranks = sorted(int(r) for r in _RANKS.value)
    if ranks[-1] > min(m, n):
        raise app.UsageError(f"--ranks must be <= min(m, n) = {min(m, n)}")
    norm_a = float(np.linalg.norm(img))

    full = jax.jit(lambda a: jnp.linalg.svd(a, full_matrices=False))
    t_full = _best_time(lambda: full(A), _REPEATS.value)
    _, s_full, _ = full(A)
    s_full = np.asarray(s_full, np.float64)
    tail = np.sqrt(np.maximum(np.sum(s_full**2) - np.cumsum(s_full**2), 0.0))
    optimal = np.concatenate([[1.0], tail / np.linalg.norm(s_full)])   # error of rank r, r=0..

    print(f"image {_IMAGE.value}: {m}×{n} grey levels, full jnp.linalg.svd {1e3 * t_full:.1f} ms")
    print(f"{'rank':>5s} {'randomized err':>15s} {'optimal err':>12s} {'ratio':>7s} "
          f"{'time [ms]':>10s} {'speed-up vs full':>17s}")
    recon, errors = {}, {}
    key = jax.random.key(0)
    for r in ranks:
        q = None if _POWER_ITERS.value < 0 else _POWER_ITERS.value
        fn = jax.jit(lambda a, r=r, q=q: jaxla.randomized_svd(key, a, r, power_iters=q))
        t = _best_time(lambda fn=fn: fn(A), _REPEATS.value)
        U, S, Vh = fn(A)
        approx = np.asarray((U * S) @ Vh)
        errors[r] = float(np.linalg.norm(img - approx)) / norm_a
        recon[r] = approx
        print(f"{r:5d} {errors[r]:15.4e} {optimal[r]:12.4e} {errors[r] / optimal[r]:7.3f} "
              f"{1e3 * t:10.2f} {t_full / t:17.1f}")

    cols = len(ranks) + 1
    fig = plt.figure(figsize=(3.2 * cols, 6.5))
    ax = fig.add_subplot(2, 1, 1)
    rr = np.arange(1, min(m, n) + 1)
    ax.semilogy(rr, optimal[1:], "k-", lw=1, label="optimal (truncated full SVD)")
    ax.semilogy(ranks, [errors[r] for r in ranks], "o", color="tab:red",
                label="jaxla.randomized_svd")
    ax.set(xlabel="rank", ylabel="relative Frobenius error", title="Error vs rank")
    ax.legend()
    panels = [("original", img)] + [(f"rank {r} (err {errors[r]:.3f})", recon[r])
                                    for r in ranks]
    for i, (title, picture) in enumerate(panels):
        a = fig.add_subplot(2, cols, cols + i + 1)
        a.imshow(np.clip(picture, 0, 1), cmap="gray", vmin=0, vmax=1)
        a.set_title(title, fontsize=9)
        a.axis("off")
    fig.tight_layout()
    os.makedirs(_OUT_DIR.value, exist_ok=True)
    path = os.path.join(_OUT_DIR.value, "low_rank_image.png")
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


if __name__ == "__main__":
    app.run(main)
