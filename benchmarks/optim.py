"""Steps per second: jaxla's jitted lax.scan optimizers vs an idiomatic torch.optim loop.

Problem: least squares L(w) = (1/n)‖Xw − y‖² with X of shape (n, d). Every
method records the loss each step (a training loop does).

  jaxla/auto  `jax.jit` of `jaxla.gradient_descent` / `jaxla.heavy_ball` on
              `jaxla.least_squares(X, y)` (default form="auto": the Gram form when
              d <= n/4). The timed program INCLUDES forming G = XᵀX, c = Xᵀy once
              (O(n d²)); after that a step is one d×d matvec. The formation time is
              also timed alone and reported, with the steady-state rate without it.
  jaxla/data  the same with form="data": each step reads X twice (one product
              with X, one with Xᵀ) — the same arithmetic as the torch loop.
  torch       `torch.optim.SGD(lr)` / `SGD(lr, momentum)` driven by
              `loss.backward(); opt.step()` on the full data in a Python loop (the
              idiom a user writes; it does not form the Gram matrix).

Both run on the same CPU in one process, intra-op threads pinned to the same
count (`--threads`, default 1); each timing is the minimum over `--repeats`
runs after a warm-up (compilation excluded), `block_until_ready` on the JAX
side; every repeat's time is printed too (the machine may be shared). Ratio =
jaxla steps/s ÷ torch steps/s.

  python benchmarks/optim.py                      # 10,000×1,000 and 1,000×100
  python benchmarks/optim.py --sizes=10000x1000 --num_steps=200
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import torch
from absl import app, flags

import jaxla

_SIZES = flags.DEFINE_list("sizes", ["10000x1000", "1000x100"], "Problem sizes n×d.")
_STEPS = flags.DEFINE_integer("num_steps", 100, "Optimizer steps per timed run.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats (minimum is reported).")
_DTYPE = flags.DEFINE_enum("dtype", "float32", ["float32", "float64"], "Precision.")
_THREADS = flags.DEFINE_integer(
    "threads", 1, "Intra-op threads for both torch and XLA:CPU (0 = each library's default). "
    "On a shared, oversubscribed machine torch's OpenMP pool collapses with >1 thread, so "
    "the default pins both sides to one.")
_FORMS = flags.DEFINE_list("forms", ["auto", "data"], "jaxla.least_squares forms to time.")


def _times(fn, repeats):
    """Wall times of `repeats` calls after one warm-up call (compilation, pools)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _gram_runner(X, y):
    """Forming the Gram problem alone (G, c, ‖y‖²), as the optimizer programs do."""
    compiled = jax.jit(lambda X, y: jaxla.least_squares(X, y, form="gram"))
    return lambda: jax.block_until_ready(compiled(X, y))


def _optimize(method, p, w0, step_size, momentum, num_steps):
    if method == "gradient_descent":
        return jaxla.gradient_descent(p.grad, w0, step_size=step_size, num_steps=num_steps,
                                      loss_fn=p.loss)
    return jaxla.heavy_ball(p.grad, w0, step_size=step_size, momentum=momentum,
                            num_steps=num_steps, loss_fn=p.loss)


def _jax_runner(method, form, X, y, w0, step_size, momentum, num_steps):
    """One jitted program: build the problem (Gram formation included), then scan."""
    compiled = jax.jit(lambda X, y, w0: _optimize(
        method, jaxla.least_squares(X, y, form=form), w0, step_size, momentum, num_steps))
    return lambda: jax.block_until_ready(compiled(X, y, w0))


def _steady_runner(method, X, y, w0, step_size, momentum, num_steps):
    """The scan alone on a Gram problem formed beforehand (the per-step cost)."""
    problem = jax.block_until_ready(jax.jit(
        lambda X, y: jaxla.least_squares(X, y, form="gram"))(X, y))
    compiled = jax.jit(lambda p, w0: _optimize(method, p, w0, step_size, momentum, num_steps))
    return lambda: jax.block_until_ready(compiled(problem, w0))


def _torch_runner(X, y, w0, step_size, momentum, num_steps):
    def run():
        w = w0.clone().requires_grad_(True)
        opt = torch.optim.SGD([w], lr=step_size, momentum=momentum)
        losses = []
        for _ in range(num_steps):
            opt.zero_grad()
            loss = (X @ w - y).square().mean()
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        return w.detach(), torch.stack(losses)

    return run


def _pin_threads(threads):
    """Same intra-op parallelism on both sides; must run before JAX's backend starts."""
    if threads <= 0:
        return
    torch.set_num_threads(threads)
    flags_ = os.environ.get("XLA_FLAGS", "")
    if threads == 1:
        flags_ += " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    else:
        flags_ += f" intra_op_parallelism_threads={threads}"
    os.environ["XLA_FLAGS"] = flags_.strip()


def main(argv):
    del argv
    _pin_threads(_THREADS.value)
    dtype, steps, repeats = _DTYPE.value, _STEPS.value, _REPEATS.value
    raw = []
    with jaxla.enable_x64(dtype == "float64"):
        print(f"jax {jax.__version__} ({jax.devices()[0].platform}), torch {torch.__version__} "
              f"({torch.get_num_threads()} threads), "
              f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}, "
              f"{dtype}, {steps} steps/run, min of {repeats}")
        header = (f"{'n x d':>12s}  {'method':17s} {'jaxla form':11s} {'jaxla steps/s':>13s} "
                  f"{'torch.optim steps/s':>19s} {'ratio':>7s}  {'max |Δw|/|w|':>12s}")
        print(header)
        print("-" * len(header))
        rng = np.random.default_rng(0)
        for size in _SIZES.value:
            n, d = (int(v) for v in size.lower().split("x"))
            X = rng.standard_normal((n, d)).astype(dtype)
            y = (X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)).astype(dtype)
            # Step sizes from the spectrum of the Hessian (2/n) XᵀX.
            lam = np.linalg.eigvalsh(2.0 / n * (X.T.astype(np.float64) @ X))
            gd = jaxla.optimal_gd_params(lam[0], lam[-1])
            hb = jaxla.optimal_heavy_ball_params(lam[0], lam[-1])
            Xj, yj, w0j = jnp.asarray(X), jnp.asarray(y), jnp.zeros(d, dtype)
            Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
            w0t = torch.zeros(d, dtype=getattr(torch, dtype))
            t_gram = _times(_gram_runner(Xj, yj), repeats)
            raw.append((size, "gram formation", "gram", t_gram))
            notes = []
            for method, step, momentum in (
                    ("gradient_descent", float(gd.step_size), 0.0),
                    ("heavy_ball", float(hb.step_size), float(hb.momentum))):
                run_t = _torch_runner(Xt, yt, w0t, step, momentum, steps)
                t_t = _times(run_t, repeats)
                raw.append((size, method, "torch.optim", t_t))
                wt = run_t()[0].numpy()
                st = steps / min(t_t)
                resolved_forms = []
                for form in _FORMS.value:
                    resolved = form if form != "auto" else ("gram" if 4 * d <= n else "data")
                    resolved_forms.append(resolved)
                    run_j = _jax_runner(method, form, Xj, yj, w0j, step, momentum, steps)
                    t_j = _times(run_j, repeats)
                    label = f"{form}->{resolved}" if form == "auto" else form
                    raw.append((size, method, label, t_j))
                    diff = np.linalg.norm(np.asarray(run_j().x) - wt) / np.linalg.norm(wt)
                    sj = steps / min(t_j)
                    print(f"{size:>12s}  {method:17s} {label:11s} {sj:13.1f} {st:19.1f} "
                          f"{sj / st:6.2f}x  {diff:12.1e}", flush=True)
                if "gram" in resolved_forms:
                    t_s = _times(_steady_runner(method, Xj, yj, w0j, step, momentum, steps),
                                 repeats)
                    raw.append((size, method, "gram, G given", t_s))
                    ss = steps / min(t_s)
                    notes.append(f"{method} {ss:.0f} steps/s = {ss / st:.1f}x torch")
            print(f"{'':>12s}  Gram formation alone (G = XᵀX, c = Xᵀy): "
                  f"{min(t_gram) * 1e3:.1f} ms = {min(t_gram) * st:.1f} torch steps"
                  + (f"\n{'':>12s}  steady state with G formed beforehand: {'; '.join(notes)}"
                     if notes else ""), flush=True)
    print(f"\nraw wall times per run of {steps} steps (s), {repeats} repeats after a warm-up:")
    for size, method, form, times in raw:
        print(f"  {size:>12s}  {method:17s} {form:12s} "
              + " ".join(f"{t:.4f}" for t in times))


if __name__ == "__main__":
    app.run(main)
