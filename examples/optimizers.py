"""Conditioning sets the speed of learning: GD, heavy ball, Nesterov and CG on quadratics.

For f(x) = ½xᵀHx − bᵀx with the spectrum of H spread evenly over [1, κ], plots
the excess loss f(x_t) − f* against the step (log scale) for gradient descent
and heavy ball with their optimal parameters (`jaxla.optimal_gd_params`,
`jaxla.optimal_heavy_ball_params` on the spectrum's ends estimated by
`jaxla.spectral_bounds`, i.e. Lanczos), Nesterov (α = 1/λ_max, β = (√κ−1)/(√κ+1))
and conjugate gradient, at two condition numbers, with the theoretical rate
lines: f − f* ∝ ρ^{2t}, ρ = (κ−1)/(κ+1) for GD and (√κ−1)/(√κ+1) for heavy ball
(CG's bound 4ρ_hb^{2k}). Prints the measured per-step contraction of the error
next to the prediction.

  python examples/optimizers.py --out_dir=/tmp/jaxla_examples
"""

from __future__ import annotations

import math
import os

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
from absl import app, flags

import jaxla

matplotlib.use("Agg")
import matplotlib.pyplot as plt

_N = flags.DEFINE_integer("n", 200, "Dimension of the quadratic.")
_KAPPAS = flags.DEFINE_list("kappas", ["1e2", "1e4"], "Condition numbers to compare.")
_STEPS = flags.DEFINE_integer("num_steps", 3000, "Steps of each first-order method.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the random eigenbasis and b.")
_OUT = flags.DEFINE_string("out_dir", "/tmp/jaxla_examples", "Where the PNG goes.")


def _problem(rng, n, kappa):
    """H = Q diag(linspace(1, κ)) Qᵀ, random b; returns H, b, x* and the excess loss."""
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    H = jnp.asarray((Q * np.linspace(1.0, kappa, n)) @ Q.T)
    b = jnp.asarray(rng.standard_normal(n))
    x_star = jnp.linalg.solve(H, b)
    # ½(x − x*)ᵀH(x − x*) = f(x) − f*, without the cancellation of f(x) − f*.
    excess = jax.tree_util.Partial(lambda H, xs, x: 0.5 * (x - xs) @ H @ (x - xs), H, x_star)
    return H, b, excess


def _measured_rate(excess, floor=1e-22):
    """Per-step error contraction (L[t2]/L[t1])^(1/(2(t2−t1))), t1 = t2/2, where t2 is the
    first step below `floor`·L[0] (rounding noise lives below; the loss is quadratic in
    the error, hence the 2). Heavy ball's extreme modes are Jordan blocks (error
    ~ t·ρ^t), so a finite window reads it slightly above ρ, by about 2^(1/(t2−t1))."""
    excess = np.asarray(excess)
    below = np.nonzero(excess < floor * excess[0])[0]
    t2 = int(below[0]) if below.size else len(excess) - 1
    t1 = t2 // 2
    return math.exp((math.log(excess[t2]) - math.log(excess[t1])) / (2 * (t2 - t1)))


def run(n, kappas, num_steps, seed, out_dir):
    """Runs the comparison and writes the figure.

    Returns ({(κ, method): (measured, predicted)} plus {(κ, "bounds"): (λ_min, λ_max)},
    the PNG's path).
    """
    rng = np.random.default_rng(seed)
    results = {}
    fig, axes = plt.subplots(1, len(kappas), figsize=(6.5 * len(kappas), 4.8), squeeze=False)
    with jaxla.enable_x64():
        for ax, kappa in zip(axes[0], kappas):
            H, b, excess = _problem(rng, n, kappa)
            p = jaxla.quadratic(H, b)
            x0 = jnp.zeros(n)
            # The spectrum's ends from Lanczos on H (no dense eigendecomposition).
            lo, hi = jaxla.spectral_bounds(H, jnp.asarray(rng.standard_normal(n)),
                                           num_iters=min(n, 60))
            results[(kappa, "bounds")] = (float(lo), float(hi))
            gd = jaxla.optimal_gd_params(lo, hi)
            hb = jaxla.optimal_heavy_ball_params(lo, hi)
            root = math.sqrt(kappa)
            nest_rate = 1 - 1 / root  # Nesterov on quadratics: error ~ (1 − 1/√κ)^t
            runs = {
                "gradient descent": (jaxla.gradient_descent(
                    p.grad, x0, step_size=gd.step_size, num_steps=num_steps, loss_fn=excess),
                    float(gd.rate)),
                "heavy ball": (jaxla.heavy_ball(
                    p.grad, x0, step_size=hb.step_size, momentum=hb.momentum,
                    num_steps=num_steps, loss_fn=excess), float(hb.rate)),
                "Nesterov": (jaxla.nesterov(
                    p.grad, x0, step_size=1 / kappa, momentum=(root - 1) / (root + 1),
                    num_steps=num_steps, loss_fn=excess), nest_rate),
            }
            steps = np.arange(num_steps)
            for (name, (trace, predicted)), color in zip(runs.items(), ("C0", "C1", "C2")):
                losses = np.asarray(trace.losses)
                ax.semilogy(steps, losses, color=color, label=name)
                measured = _measured_rate(losses)
                results[(kappa, name)] = (measured, predicted)
                if name != "Nesterov":
                    ax.semilogy(steps, losses[0] * predicted ** (2 * steps), color=color,
                                linestyle="--", linewidth=1,
                                label=f"theory ρ = {predicted:.4f}")
            # CG: one solve per tolerance (vmapped; `tol` is traced), so each point is
            # (iterations used, excess loss reached).
            tols = jnp.geomspace(1.0, 1e-13, 60)
            xs, info = jax.vmap(lambda t, H=H, b=b: jaxla.conjugate_gradient(H, b, tol=t))(tols)
            cg_excess = np.asarray(jax.vmap(excess)(xs))
            iters = np.asarray(info.num_iters)
            keep = cg_excess > 0
            ax.semilogy(iters[keep], cg_excess[keep], "o", color="C3", markersize=3,
                        label="conjugate gradient")
            f0 = float(excess(x0))
            k = np.arange(int(iters.max()) + 1)
            ax.semilogy(k, 4 * f0 * float(hb.rate) ** (2 * k), color="C3", linestyle=":",
                        linewidth=1, label="CG bound 4ρ_hb^{2k}")
            good = (iters > 0) & keep
            cg_measured = math.exp(np.median(np.log(cg_excess[good] / f0) / (2 * iters[good])))
            results[(kappa, "conjugate gradient")] = (cg_measured, float(hb.rate))
            ax.set_ylim(max(1e-26 * f0, 1e-300), 10 * f0)
            ax.set_xlabel("step / iteration")
            ax.set_ylabel("f(x_t) − f*")
            ax.set_title(f"κ = {kappa:g}, n = {n}")
            ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "optimizers.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return results, path


def main(argv):
    del argv
    kappas = [float(k) for k in _KAPPAS.value]
    results, path = run(_N.value, kappas, _STEPS.value, _SEED.value, _OUT.value)
    for (kappa, name), (lo, hi) in results.items():
        if name == "bounds":
            print(f"kappa={kappa:g}: Lanczos bounds [{lo:.6g}, {hi:.6g}] (true [1, {kappa:g}])")
    print(f"{'kappa':>8s}  {'method':20s} {'measured rate':>14s} {'predicted':>10s}")
    for (kappa, name), (measured, predicted) in results.items():
        if name == "bounds":
            continue
        note = "  (CG: average rate, bound)" if name == "conjugate gradient" else ""
        print(f"{kappa:8.0e}  {name:20s} {measured:14.5f} {predicted:10.5f}{note}")
    print(f"wrote {path}")


if __name__ == "__main__":
    app.run(main)
