"""Top Hessian eigenvalues of a small MLP on scikit-learn's digits, matrix-free.

Trains a one-hidden-layer tanh MLP (64 → hidden → 10, cross-entropy) with
full-batch gradient descent with momentum, then finds the top-k eigenvalues of
the loss Hessian with `jaxla.lanczos_eigsh` on the Hessian-vector-product
operator `jaxla.operators.hvp` (never forming the Hessian), at initialization
and after training. For a small model it also forms the dense Hessian
(`jax.hessian`) and checks the Lanczos values against `numpy.linalg.eigvalsh`.
Writes one PNG: the training loss and the two spectra (with the dense one).

    python examples/hessian_spectrum.py --hidden=32 --k=10 --out_dir=/tmp/jaxla_examples
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
from jax.flatten_util import ravel_pytree
from sklearn.datasets import load_digits

import jaxla

_HIDDEN = flags.DEFINE_integer("hidden", 32, "hidden units")
_STEPS = flags.DEFINE_integer("steps", 300, "full-batch training steps")
_LR = flags.DEFINE_float("lr", 0.5, "step size")
_MOMENTUM = flags.DEFINE_float("momentum", 0.9, "heavy-ball momentum")
_K = flags.DEFINE_integer("k", 10, "number of top Hessian eigenvalues")
_LANCZOS_ITERS = flags.DEFINE_integer("lanczos_iters", 80, "Krylov dimension for Lanczos")
_N_SAMPLES = flags.DEFINE_integer("n_samples", 1797, "training images used (<= 1797)")
_DENSE_MAX = flags.DEFINE_integer("dense_max_params", 4000,
                                  "form the dense Hessian for the check up to this many params")
_SEED = flags.DEFINE_integer("seed", 0, "initialization seed")
_OUT_DIR = flags.DEFINE_string("out_dir", "/tmp/jaxla_examples", "where the PNG goes")


def init_params(key, sizes):
    params = []
    for k, (m, n) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        params.append({"w": jax.random.normal(k, (m, n)) / np.sqrt(m), "b": jnp.zeros(n)})
    return params


def logits_fn(params, x):
    h = jnp.tanh(x @ params[0]["w"] + params[0]["b"])
    return h @ params[1]["w"] + params[1]["b"]


def make_loss(x, y):
    def loss(params):
        logp = jax.nn.log_softmax(logits_fn(params, x))
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    return loss


def top_hessian_eigs(loss, params, k, num_iters):
    """Top-k Hessian eigenvalues via Lanczos on the HVP operator (jitted)."""
    op = jaxla.operators.hvp(loss, params)
    flat, _ = ravel_pytree(params)
    v0 = jax.random.normal(jax.random.key(1), flat.shape, flat.dtype)
    run = jax.jit(lambda op, v: jaxla.lanczos_eigsh(op, v, k, num_iters=num_iters))
    res = jax.block_until_ready(run(op, v0))
    t0 = time.perf_counter()
    res = jax.block_until_ready(run(op, v0))
    return np.asarray(res.eigenvalues)[::-1], np.asarray(res.eigenvectors), \
        time.perf_counter() - t0, op


def main(argv):
    del argv
    digits = load_digits()
    n = min(_N_SAMPLES.value, digits.data.shape[0])
    x = jnp.asarray(digits.data[:n] / 16.0, jnp.float32)
    y = jnp.asarray(digits.target[:n])
    loss = make_loss(x, y)
    params = init_params(jax.random.key(_SEED.value), (64, _HIDDEN.value, 10))
    num_params = ravel_pytree(params)[0].size
    k = min(_K.value, num_params)
    m = min(max(_LANCZOS_ITERS.value, k), num_params)
    print(f"MLP 64-{_HIDDEN.value}-10 on {n} digits: {num_params} parameters, top-{k} "
          f"Hessian eigenvalues by Lanczos (m={m})")

    eig_init, _, _, _ = top_hessian_eigs(loss, params, k, m)

    @jax.jit
    def step(carry, _):
        params, velocity = carry
        value, grads = jax.value_and_grad(loss)(params)
        velocity = jax.tree_util.tree_map(lambda v, g: _MOMENTUM.value * v - _LR.value * g,
                                          velocity, grads)
        params = jax.tree_util.tree_map(jnp.add, params, velocity)
        return (params, velocity), value

    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    (params, _), losses = jax.lax.scan(step, (params, zeros), None, length=_STEPS.value)
    losses = np.asarray(losses)
    acc = float(jnp.mean(jnp.argmax(logits_fn(params, x), axis=1) == y))
    print(f"final loss {float(loss(params)):.4f}  train accuracy {acc:.4f}")

    eig_final, vecs, seconds, op = top_hessian_eigs(loss, params, k, m)
    resid = np.linalg.norm(np.asarray(jax.vmap(op, in_axes=1, out_axes=1)(vecs))
                           - vecs * eig_final[::-1], axis=0)
    print(f"lanczos time {1e3 * seconds:.1f} ms, max Ritz residual {resid.max():.2e}")
    print("lanczos top-k (trained): " + " ".join(f"{v:.5g}" for v in eig_final))
    print("lanczos top-k (init):    " + " ".join(f"{v:.5g}" for v in eig_init))

    dense = None
    if num_params <= _DENSE_MAX.value:
        flat, unravel = ravel_pytree(params)
        H = np.asarray(jax.jit(jax.hessian(lambda f: loss(unravel(f))))(flat), np.float64)
        dense = np.linalg.eigvalsh(0.5 * (H + H.T))[::-1]
        rel = np.abs(eig_final - dense[:k]) / np.abs(dense[0])
        print("dense top-k (trained):   " + " ".join(f"{v:.5g}" for v in dense[:k]))
        print(f"max_rel_error {rel.max():.3e}")

    os.makedirs(_OUT_DIR.value, exist_ok=True)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4.5))
    ax0.semilogy(losses)
    ax0.set(xlabel="step", ylabel="training loss", title="full-batch GD with momentum")
    idx = np.arange(1, k + 1)
    ax1.plot(idx, eig_init, "s-", label="Lanczos, initialization")
    ax1.plot(idx, eig_final, "o-", label="Lanczos, trained")
    if dense is not None:
        ax1.plot(idx, dense[:k], "kx", ms=9, label="dense eigvalsh, trained")
    ax1.set(xlabel="index", ylabel="Hessian eigenvalue", yscale="symlog",
            title=f"top-{k} Hessian eigenvalues ({num_params} params)")
    ax1.legend()
    fig.tight_layout()
    path = os.path.join(_OUT_DIR.value, "hessian_spectrum.png")
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    app.run(main)
