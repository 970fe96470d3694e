"""Attention: blockwise (flash) vs materialized attention, on CPU (JAX) and GPU (Triton).

    ./dev python benchmarks/attention.py                       # CPU table
    ./dev python benchmarks/attention.py --t_list=1024,2048 --grad_max_t=2048
    python benchmarks/attention.py --gpu_only                  # on a CUDA machine

CPU (JAX, float32, B = 1, N heads, D = 64 by default): `jaxla.flash_attention`
vs `jaxla.attention` (and `jax.nn.dot_product_attention` as an outside anchor)
for each T: XLA's compiled temporary memory (`memory_analysis().temp_size_in_bytes`,
compile only) for the forward and for `jax.grad`, and wall time (min over
`--repeats` after a compiling warm-up, `block_until_ready`) of the forward and,
for T <= `--grad_max_t`, of forward+backward. Ratios are reference ÷ flash.

GPU (only when torch sees CUDA): the Triton kernel `kernels.flash_attention` vs
PyTorch SDPA forced to its FlashAttention backend and SDPA's default dispatch
(cuDNN where it picks it), bf16 and fp16, D = 64 and 128, T = 512 … 16k with
batch·T = 16k and N·D = 2048, causal and non-causal; forward and backward
TFLOP/s (forward 4·B·N·T²·D flops, halved when causal; backward 2.5× forward),
and the fraction of a measured bf16 matmul ceiling (8192³ `torch.matmul`).
Targets (issue 7): forward >= 1.0× SDPA-flash, backward >= 0.8× at D = 128, T >= 2048.
"""

from __future__ import annotations

import _timing  # benchmarks/_timing.py
import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

import jaxla

_T_LIST = flags.DEFINE_list("t_list", ["1024", "2048", "4096", "8192", "16384"],
                            "Sequence lengths (CPU).")
_HEADS = flags.DEFINE_integer("heads", 1, "Heads N (CPU).")
_HEAD_DIM = flags.DEFINE_integer("head_dim", 64, "Head dim D (CPU).")
_CAUSAL = flags.DEFINE_bool("causal", False, "Causal attention (CPU).")
_BLOCK = flags.DEFINE_integer("block", 128, "block_q = block_k of jaxla.flash_attention.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats (the minimum is reported).")
_GRAD_MAX_T = flags.DEFINE_integer(
    "grad_max_t", 4096, "Time forward+backward only up to this T (the reference's gradient "
    "needs ~5 GB of temporaries at T = 16k).")
_GPU_ONLY = flags.DEFINE_bool("gpu_only", False, "Skip the CPU table.")
_GPU_T_LIST = flags.DEFINE_list("gpu_t_list", ["512", "1024", "2048", "4096", "8192", "16384"],
                                "Sequence lengths (GPU); batch = 16384 // T.")


# --------------------------------------------------------------------------- CPU
def _best_ms(fn, args, repeats):
    """Min wall time of jit(fn)(*args) in ms, after a compiling warm-up."""
    fn = jax.jit(fn)
    return _timing.best_of(lambda: jax.block_until_ready(fn(*args)), repeats)[0] * 1e3


def _temp_bytes(fn, *specs):
    return jax.jit(fn).lower(*specs).compile().memory_analysis().temp_size_in_bytes


def _cpu_table():
    n, d, causal, block = _HEADS.value, _HEAD_DIM.value, _CAUSAL.value, _BLOCK.value
    impls = {
        "flash": lambda q, k, v: jaxla.flash_attention(q, k, v, causal=causal, block_q=block,
                                                       block_k=block),
        "reference": lambda q, k, v: jaxla.attention(q, k, v, causal=causal),
        "jax.nn": lambda q, k, v: jax.nn.dot_product_attention(q, k, v, is_causal=causal),
    }
    print(f"CPU: jax {jax.__version__} ({jax.devices()[0].device_kind}), float32, B=1, N={n}, "
          f"D={d}, causal={causal}, block={block}; times = min of {_REPEATS.value}")
    head = (f"{'T':>6s} | {'temp fwd MiB':>25s} | {'temp grad MiB':>25s} | "
            f"{'fwd ms':>33s} | {'fwd+bwd ms':>24s}")
    sub = (f"{'':>6s} | {'flash':>8s} {'ref':>8s} {'ratio':>7s} | {'flash':>8s} {'ref':>8s} "
           f"{'ratio':>7s} | {'flash':>8s} {'ref':>8s} {'jax.nn':>8s} {'ratio':>6s} | "
           f"{'flash':>8s} {'ref':>8s} {'ratio':>6s}")
    print(head)
    print(sub)
    print("-" * len(sub))
    rng = np.random.default_rng(0)
    for t in (int(x) for x in _T_LIST.value):
        spec = jax.ShapeDtypeStruct((1, t, n, d), jnp.float32)
        mem = {}
        for name in ("flash", "reference"):
            fn = impls[name]
            grad = jax.grad(lambda q, k, v, fn=fn: jnp.sum(fn(q, k, v)), argnums=(0, 1, 2))
            mem[name] = (_temp_bytes(fn, spec, spec, spec) / 2**20,
                         _temp_bytes(grad, spec, spec, spec) / 2**20)
        q, k, v = (jnp.asarray(rng.standard_normal((1, t, n, d)), jnp.float32)
                   for _ in range(3))
        times = {name: _best_ms(fn, (q, k, v), _REPEATS.value) for name, fn in impls.items()}
        line = (f"{t:6d} | {mem['flash'][0]:8.1f} {mem['reference'][0]:8.1f} "
                f"{mem['reference'][0] / mem['flash'][0]:6.0f}x | {mem['flash'][1]:8.1f} "
                f"{mem['reference'][1]:8.1f} {mem['reference'][1] / mem['flash'][1]:6.0f}x | "
                f"{times['flash']:8.1f} {times['reference']:8.1f} {times['jax.nn']:8.1f} "
                f"{times['reference'] / times['flash']:5.2f}x |")
        if t <= _GRAD_MAX_T.value:
            grads = {}
            for name in ("flash", "reference"):
                grad = jax.grad(lambda q, k, v, fn=impls[name]: jnp.sum(fn(q, k, v)),
                                argnums=(0, 1, 2))
                grads[name] = _best_ms(grad, (q, k, v), _REPEATS.value)
            line += (f" {grads['flash']:8.1f} {grads['reference']:8.1f} "
                     f"{grads['reference'] / grads['flash']:5.2f}x")
        else:
            line += f" {'-':>8s} {'-':>8s} {'-':>6s}"
        print(line, flush=True)


# --------------------------------------------------------------------------- GPU
def _gpu_table():
    import torch
    import torch.nn.functional as F
    import triton.testing
    from torch.nn.attention import SDPBackend, sdpa_kernel

    import kernels

    device = torch.cuda.get_device_name()
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    ms = triton.testing.do_bench(lambda: a @ a)
    ceiling = 2 * 8192**3 / (ms * 1e-3) / 1e12
    print(f"\nGPU: {device}, torch {torch.__version__}; bf16 matmul ceiling "
          f"{ceiling:.0f} TFLOP/s (8192³); TFLOP/s (fraction of ceiling)")
    impls = {
        "triton": lambda q, k, v, c: kernels.flash_attention(q, k, v, causal=c),
        "sdpa-flash": lambda q, k, v, c: _with(sdpa_kernel(SDPBackend.FLASH_ATTENTION),
                                              lambda: F.scaled_dot_product_attention(
                                                  q, k, v, is_causal=c)),
        "sdpa-default": lambda q, k, v, c: F.scaled_dot_product_attention(q, k, v, is_causal=c),
    }
    header = (f"{'dtype':9s} {'D':>4s} {'T':>6s} {'B':>3s} {'causal':>6s} {'pass':>4s} | "
              + " | ".join(f"{name:>14s}" for name in impls) + " | ours/flash")
    print(header)
    print("-" * len(header))
    for dtype in (torch.bfloat16, torch.float16):
        for d in (64, 128):
            heads = 2048 // d
            for t in (int(x) for x in _GPU_T_LIST.value):
                b = max(1, 16384 // t)
                for causal in (False, True):
                    q, k, v = (torch.randn(b, heads, t, d, device="cuda", dtype=dtype,
                                           requires_grad=True) for _ in range(3))
                    d_out = torch.randn_like(q)
                    flops = 4 * b * heads * t * t * d * (0.5 if causal else 1.0)
                    for mode, mult in (("fwd", 1.0), ("bwd", 2.5)):
                        tflops = {}
                        for name, fn in impls.items():
                            try:
                                ms = _gpu_ms(fn, q, k, v, d_out, causal, mode)
                                tflops[name] = mult * flops / (ms * 1e-3) / 1e12
                            except RuntimeError:  # backend unavailable for this shape
                                tflops[name] = float("nan")
                        cells = " | ".join(f"{tflops[n]:6.1f} ({tflops[n] / ceiling:4.2f})"
                                           for n in impls)
                        print(f"{str(dtype).replace('torch.', ''):9s} {d:4d} {t:6d} {b:3d} "
                              f"{str(causal):>6s} {mode:>4s} | {cells} | "
                              f"{tflops['triton'] / tflops['sdpa-flash']:5.2f}x", flush=True)


def _gpu_ms(fn, q, k, v, d_out, causal, mode):
    import triton.testing

    if mode == "fwd":
        return triton.testing.do_bench(lambda: fn(q, k, v, causal))
    out = fn(q, k, v, causal)
    return triton.testing.do_bench(lambda: out.backward(d_out, retain_graph=True),
                                   grad_to_none=(q, k, v))


def _with(context, fn):
    with context:
        return fn()


def main(argv):
    del argv
    if not _GPU_ONLY.value:
        _cpu_table()
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        _gpu_table()
    else:
        print("\nGPU table: not yet measured (no CUDA device in this process).")


if __name__ == "__main__":
    app.run(main)
