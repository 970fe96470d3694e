"""Cross-check cases for attention: `jaxla.attention`, `jaxla.flash_attention`,
`jaxla.multi_head_attention` against their PyTorch counterparts (the twins in
`torchbridge.linalg`, the Triton kernel `kernels.flash_attention`, PyTorch SDPA)
and a float64 NumPy reference.

Gradient cases return (output, dQ, dK, dV) for a fixed random cotangent dO: JAX
through `jax.vjp` (the flash version's `custom_vjp`), torch through autograd. The
Triton cases run the kernel on (B, N, T, H) *views* of the (B, T, N, H) inputs,
so the kernel sees non-contiguous strides. On CPU the kernel runs through
Triton's interpreter, so those cases are tiny.
"""

from __future__ import annotations

import math

import jax
import numpy as np

import jaxla
from torchbridge import linalg as tl
from torchbridge.crosscheck.registry import Case, register


# --------------------------------------------------------------- NumPy reference
def _visible(t_q: int, t_k: int, causal: bool, mask: np.ndarray | None) -> np.ndarray:
    """(…, Tq, Tk) boolean: key j visible to query i (causal: j <= i + Tk − Tq)."""
    allowed = np.ones((t_q, t_k), bool)
    if causal:
        allowed = np.arange(t_k)[None, :] <= np.arange(t_q)[:, None] + (t_k - t_q)
    return allowed if mask is None else allowed & mask


def reference_attention(q, k, v, causal=False, scale=None, mask=None):
    """Float64 softmax attention on (B, T, N, H) arrays; rows with no key give 0."""
    out, _ = _reference_forward(q, k, v, causal, scale, mask)
    return out


def _reference_forward(q, k, v, causal, scale, mask):
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    group = q.shape[2] // k.shape[2]
    k, v = np.repeat(k, group, axis=2), np.repeat(v, group, axis=2)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = np.einsum("bqnh,btnh->bnqt", q, k) * scale
    allowed = np.broadcast_to(_visible(q.shape[1], k.shape[1], causal, mask), s.shape)
    s = np.where(allowed, s, -np.inf)
    m = s.max(-1, keepdims=True)
    e = np.where(allowed, np.exp(s - np.where(np.isfinite(m), m, 0.0)), 0.0)
    denom = e.sum(-1, keepdims=True)
    p = e / np.where(denom > 0, denom, 1.0)
    return np.einsum("bnqt,btnh->bqnh", p, v), (p, k, v, scale, group)


def reference_attention_grads(q, k, v, d_out, causal=False, scale=None):
    """(O, dQ, dK, dV) in float64 by the textbook softmax backward (no log-sum-exp trick)."""
    out, (p, k_rep, v_rep, scale, group) = _reference_forward(q, k, v, causal, scale, None)
    d_out = np.asarray(d_out, np.float64)
    d_p = np.einsum("bqnh,btnh->bnqt", d_out, v_rep)
    d_s = p * (d_p - np.sum(p * d_p, axis=-1, keepdims=True))
    d_q = scale * np.einsum("bnqt,btnh->bqnh", d_s, k_rep)
    d_k = scale * np.einsum("bnqt,bqnh->btnh", d_s, np.asarray(q, np.float64))
    d_v = np.einsum("bnqt,bqnh->btnh", p, d_out)
    b, t_k, n, _ = d_k.shape
    d_k = d_k.reshape(b, t_k, n // group, group, -1).sum(3)
    d_v = d_v.reshape(b, t_k, n // group, group, -1).sum(3)
    return out, d_q, d_k, d_v


# ------------------------------------------------------------------ the adapters
def _jax_grads(fn):
    def run(q, k, v, d_out):
        out, vjp = jax.vjp(fn, q, k, v)
        return (out, *vjp(d_out))
    return run


def _torch_grads(fn, heads_first=False):
    """Forward + autograd of a torch function of (B, T, N, H) tensors (or (B, N, T, H))."""

    def run(q, k, v, d_out):
        import torch

        with torch.enable_grad():
            leaves = [x.detach().requires_grad_(True) for x in (q, k, v)]
            args = [x.transpose(1, 2) for x in leaves] if heads_first else leaves
            out = fn(*args)
            if heads_first:
                out = out.transpose(1, 2)
            grads = torch.autograd.grad(out, leaves, d_out)
        return (out.detach(), *grads)

    return run


def _kernel(causal, scale=None):
    def run(q, k, v):
        import kernels

        return kernels.flash_attention(q, k, v, causal=causal, scale=scale)
    return run


def _sdpa(causal):
    def run(q, k, v):
        import torch.nn.functional as F

        return F.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                              enable_gqa=q.shape[1] != k.shape[1])
    return run


def _inputs(b, t_q, t_k, n, n_kv, h):
    def make(rng):
        return (rng.standard_normal((b, t_q, n, h)), rng.standard_normal((b, t_k, n_kv, h)),
                rng.standard_normal((b, t_k, n_kv, h)), rng.standard_normal((b, t_q, n, h)))
    return make


# ---------------------------------------------------------------------- attention
register(Case(
    name="attention/causal_gqa",
    make_inputs=lambda rng: _inputs(2, 11, 11, 4, 2, 8)(rng)[:3],
    reference=lambda q, k, v: reference_attention(q, k, v, causal=True),
    jax_fn=lambda q, k, v: jaxla.attention(q, k, v, causal=True),
    torch_fn=lambda q, k, v: tl.attention(q, k, v, causal=True),
))


def _mask_inputs(rng):
    q, k, v = _inputs(1, 7, 9, 2, 2, 6)(rng)[:3]
    mask = rng.random((1, 2, 7, 9)) < 0.6
    mask[..., 0, :] = False  # one query sees nothing: output 0
    return q, k, v, mask


register(Case(
    name="attention/mask",
    make_inputs=_mask_inputs,
    reference=lambda q, k, v, m: reference_attention(q, k, v, mask=m),
    jax_fn=lambda q, k, v, m: jaxla.attention(q, k, v, mask=m),
    torch_fn=lambda q, k, v, m: tl.attention(q, k, v, mask=m),
))

register(Case(
    name="attention/grads_tq_ne_tk",
    make_inputs=_inputs(1, 9, 13, 2, 1, 8),
    reference=lambda q, k, v, d: reference_attention_grads(q, k, v, d, causal=True),
    jax_fn=_jax_grads(lambda q, k, v: jaxla.attention(q, k, v, causal=True)),
    torch_fn=_torch_grads(lambda q, k, v: tl.attention(q, k, v, causal=True)),
))

# ------------------------------------------- flash: jaxla vs Triton kernel vs float64
# The kernel supports float16/bfloat16/float32 (no float64). 16-bit cases use the
# default tolerances of `testing.tolerance` (measured errors sit 3-10x below them).
_16BIT = ("float32", "float16", "bfloat16")
_FLASH = {  # name: (B, Tq, Tk, N, Nkv, D, causal, dtypes)
    "causal_odd_t": (1, 13, 13, 1, 1, 24, True, _16BIT),
    "tq_lt_tk_causal": (1, 9, 21, 1, 1, 16, True, _16BIT),
    "tq_gt_tk_causal": (1, 21, 9, 1, 1, 16, True, ("float32",)),
    "tq_ne_tk": (1, 9, 21, 1, 1, 32, False, ("float32",)),
    "gqa_causal": (1, 9, 9, 4, 2, 16, True, ("float32",)),
    "d64": (1, 10, 10, 1, 1, 64, False, _16BIT),
    "d80_odd_t": (1, 7, 7, 2, 2, 80, False, ("float32",)),
    "d128": (1, 6, 6, 1, 1, 128, True, ("float32",)),
}

for _name, (_b, _tq, _tk, _n, _nkv, _d, _causal, _dtypes) in _FLASH.items():
    register(Case(
        name=f"flash_attention/{_name}",
        make_inputs=_inputs(_b, _tq, _tk, _n, _nkv, _d),
        reference=lambda q, k, v, d, c=_causal: reference_attention_grads(q, k, v, d, causal=c),
        jax_fn=_jax_grads(lambda q, k, v, c=_causal: jaxla.flash_attention(
            q, k, v, causal=c, block_q=8, block_k=8)),
        torch_fn=_torch_grads(_kernel(_causal), heads_first=True),
        dtypes=_dtypes,
    ))

register(Case(
    name="flash_attention/scale",
    make_inputs=_inputs(1, 12, 12, 1, 1, 16),
    reference=lambda q, k, v, d: reference_attention_grads(q, k, v, d, causal=True, scale=0.7),
    jax_fn=_jax_grads(lambda q, k, v: jaxla.flash_attention(q, k, v, causal=True, scale=0.7,
                                                            block_q=4, block_k=8)),
    torch_fn=_torch_grads(_kernel(True, scale=0.7), heads_first=True),
    dtypes=("float32",),
))

# ---------------------------------------------------- flash: jaxla vs SDPA vs float64
_SDPA = {"sdpa": (19, 2, 2, 32, False, ("float32",)),
         "sdpa_causal_gqa": (19, 4, 2, 32, True, ("float32", "float64"))}
for _name, (_t, _n, _nkv, _d, _causal, _dtypes) in _SDPA.items():
    register(Case(
        name=f"flash_attention/{_name}",
        make_inputs=_inputs(2, _t, _t, _n, _nkv, _d),
        reference=lambda q, k, v, d, c=_causal: reference_attention_grads(q, k, v, d, causal=c),
        jax_fn=_jax_grads(lambda q, k, v, c=_causal: jaxla.flash_attention(
            q, k, v, causal=c, block_q=8, block_k=4)),
        torch_fn=_torch_grads(_sdpa(_causal), heads_first=True),
        dtypes=_dtypes,
    ))


# -------------------------------------- flash: jaxla vs the blockwise torch twin
register(Case(
    name="flash_attention/torch_twin_gqa",
    make_inputs=_inputs(2, 13, 17, 4, 2, 8),
    reference=lambda q, k, v, d: reference_attention_grads(q, k, v, d, causal=True),
    jax_fn=_jax_grads(lambda q, k, v: jaxla.flash_attention(q, k, v, causal=True,
                                                            block_q=4, block_k=8)),
    torch_fn=_torch_grads(lambda q, k, v: tl.flash_attention(q, k, v, causal=True,
                                                             block_q=8, block_k=4)),
))


# ------------------------------------------------------------------ multi-head
def _mha_inputs(rng):
    d_model, n, n_kv, h = 12, 4, 2, 3
    x = rng.standard_normal((2, 9, d_model))
    w = [rng.standard_normal(s) / math.sqrt(s[0]) for s in
         ((d_model, n * h), (d_model, n_kv * h), (d_model, n_kv * h), (n * h, d_model))]
    b = [0.1 * rng.standard_normal(size) for size in (n * h, n_kv * h, n_kv * h, d_model)]
    return (x, *w, *b)


def _mha_reference(x, wq, wk, wv, wo, bq, bk, bv, bo, num_heads=4):
    q = (x @ wq + bq).reshape(*x.shape[:2], num_heads, -1)
    k = (x @ wk + bk).reshape(*x.shape[:2], -1, q.shape[-1])
    v = (x @ wv + bv).reshape(k.shape)
    return reference_attention(q, k, v, causal=True).reshape(*x.shape[:2], -1) @ wo + bo


def _mha(fn):
    def run(x, wq, wk, wv, wo, bq, bk, bv, bo):
        params = {"wq": wq, "wk": wk, "wv": wv, "wo": wo, "bq": bq, "bk": bk, "bv": bv,
                  "bo": bo}
        return fn(params, x, num_heads=4, causal=True)
    return run


register(Case(
    name="multi_head_attention/causal_gqa",
    make_inputs=_mha_inputs,
    reference=_mha_reference,
    jax_fn=_mha(jaxla.multi_head_attention),
    torch_fn=_mha(tl.multi_head_attention),
))
