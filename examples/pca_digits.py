"""PCA of scikit-learn's handwritten digits (1797 images of 8×8 pixels) with jaxla.

Fits `jaxla.pca` with every method, prints the explained-variance ratios and
the largest difference from scikit-learn's `PCA`, and writes one PNG with the
(cumulative) explained-variance curve and the 2-D projection coloured by digit.

    python examples/pca_digits.py --n_components=30 --out_dir=/tmp/jaxla_examples
"""

from __future__ import annotations

import os
import time

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from absl import app, flags
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

import jaxla

_N_COMPONENTS = flags.DEFINE_integer("n_components", 30, "number of principal components")
_OUT_DIR = flags.DEFINE_string("out_dir", "/tmp/jaxla_examples", "where the PNG goes")
_SEED = flags.DEFINE_integer("seed", 0, "key for method='randomized'")


def main(argv):
    del argv
    digits = load_digits()
    X, y = digits.data.astype(np.float32), digits.target
    k = _N_COMPONENTS.value
    ref = PCA(n_components=k, svd_solver="full").fit(digits.data)
    print(f"digits: {X.shape[0]} samples × {X.shape[1]} pixels, {k} components (float32)")
    print(f"{'method':12s} {'time [ms]':>10s} {'ratio PC1+PC2':>14s} "
          f"{'max|Δcomponent|':>16s} {'max rel Δvariance':>18s}")
    results = {}
    for method in ("eigh", "svd", "randomized"):
        fit = jax.jit(lambda x, key, m=method: jaxla.pca(x, k, method=m, key=key))
        key = jax.random.key(_SEED.value)
        jax.block_until_ready(fit(X, key))                     # compile
        t0 = time.perf_counter()
        res = jax.block_until_ready(fit(X, key))
        elapsed = time.perf_counter() - t0
        results[method] = res
        d_comp = np.abs(np.asarray(res.components[:2]) - ref.components_[:2]).max()
        d_var = np.abs(np.asarray(res.explained_variance) / ref.explained_variance_ - 1).max()
        ratio2 = float(np.sum(np.asarray(res.explained_variance_ratio[:2])))
        print(f"{method:12s} {1e3 * elapsed:10.2f} {ratio2:14.4f} {d_comp:16.2e} {d_var:18.2e}")
    print(f"sklearn PCA  {'':10s} {ref.explained_variance_ratio_[:2].sum():14.4f}")

    res = results["eigh"]
    scores = np.asarray(jaxla.pca_transform(res, X))
    ratio = np.asarray(res.explained_variance_ratio)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 5))
    ax0.bar(np.arange(1, k + 1), ratio, color="tab:blue", alpha=0.6, label="per component")
    ax0.plot(np.arange(1, k + 1), np.cumsum(ratio), "o-", color="tab:red", ms=3,
             label="cumulative (jaxla)")
    ax0.plot(np.arange(1, k + 1), np.cumsum(ref.explained_variance_ratio_), "k--", lw=1,
             label="cumulative (scikit-learn)")
    ax0.set(xlabel="component", ylabel="explained variance ratio",
            title="Explained variance, load_digits")
    ax0.legend()
    sc = ax1.scatter(scores[:, 0], scores[:, 1], c=y, cmap="tab10", s=6)
    fig.colorbar(sc, ax=ax1, label="digit")
    ax1.set(xlabel="PC 1", ylabel="PC 2",
            title=f"2-D projection ({100 * ratio[:2].sum():.1f}% of the variance)")
    fig.tight_layout()
    os.makedirs(_OUT_DIR.value, exist_ok=True)
    path = os.path.join(_OUT_DIR.value, "pca_digits.png")
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    app.run(main)
