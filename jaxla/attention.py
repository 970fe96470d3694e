"""Attention: reference softmax attention, blockwise (flash) attention, multi-head attention.

`attention` materializes the (Tq, Tk) score matrix: softmax(Q Kᵀ · scale) V with
an optional boolean mask. `flash_attention` computes the same function without
ever forming it: queries are processed in blocks (`lax.map`), keys in blocks
(`lax.fori_loop`) with the online softmax (running row max `m`, running sum
`l`, rescaled accumulator), and a `custom_vjp` whose backward recomputes the
score blocks from Q, K and the saved log-sum-exp, so the memory of both the
forward and the gradient is O(T·H), not O(T²). `multi_head_attention`
projects, splits heads, attends (blockwise) and projects back.

Layout is (..., T, N, H) like `jax.nn.dot_product_attention`: time, heads,
head dim; leading batch dimensions are allowed. Grouped-query attention: `k`
and `v` may have fewer heads than `q` (N a multiple of their head count).

Deliberate differences from `jax.nn.dot_product_attention` and PyTorch SDPA:
- causal masking with Tq ≠ Tk is aligned bottom-right (query i sees keys
  j <= i + Tk - Tq, the FlashAttention-2 convention; SDPA aligns top-left);
- a query row that sees no key at all returns 0 (and gets zero gradients)
  instead of a uniform average (jax.nn) or NaN (SDPA math backend);
- float16/bfloat16 inputs are computed in float32 and cast back.

References: Vaswani et al., "Attention is all you need" (2017); Milakov &
Gimelshein, "Online normalizer calculation for softmax" (2018); Dao et al.,
"FlashAttention" (2022) and Dao, "FlashAttention-2" (2023); Rabe & Staats,
"Self-attention does not need O(n²) memory" (2021).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxla import _validate

_HIGHEST = lax.Precision.HIGHEST


# ------------------------------------------------------------------ validation
def _prepare(q: Any, k: Any, v: Any) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Validate (..., T, N, H) inputs; return compute-dtype q, k, v and the output dtype."""
    q = _validate.as_float_array(q, "q", allow_complex=False)
    k = _validate.as_float_array(k, "k", allow_complex=False)
    v = _validate.as_float_array(v, "v", allow_complex=False)
    for x, name in ((q, "q"), (k, "k"), (v, "v")):
        _validate.check_ndim(x, name, min_ndim=3)
    if k.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"`k` and `v` must agree in (..., Tk, N_kv); got shapes "
                         f"{k.shape} and {v.shape}.")
    if q.shape[:-3] != k.shape[:-3]:
        raise ValueError(f"`q` and `k` must have the same batch dimensions; got shapes "
                         f"{q.shape} and {k.shape}.")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"`q` and `k` must have the same head dim H; got {q.shape[-1]} "
                         f"and {k.shape[-1]}.")
    if q.shape[-2] % k.shape[-2]:
        raise ValueError(f"the number of query heads ({q.shape[-2]}, `q`) must be a multiple "
                         f"of the number of key/value heads ({k.shape[-2]}, `k`).")
    out_dtype = jnp.result_type(q.dtype, k.dtype, v.dtype)
    compute = jnp.promote_types(out_dtype, jnp.float32)
    return q.astype(compute), k.astype(compute), v.astype(compute), out_dtype


def _check_causal(causal: Any) -> None:
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"`causal` must be a static Python bool; got {type(causal).__name__}.")


def _scale_of(scale: Any, head_dim: int, dtype: Any) -> jax.Array:
    if scale is None:
        return jnp.asarray(1.0 / math.sqrt(head_dim), dtype)
    return jnp.asarray(scale, dtype)


def _causal_valid(rows: jax.Array, cols: jax.Array, offset: int) -> jax.Array:
    """Bottom-right aligned causal mask: key j visible to query i iff j <= i + offset."""
    return cols[None, :] <= rows[:, None] + offset


# ------------------------------------------------------------------- reference
def attention(q: jax.Array, k: jax.Array, v: jax.Array, *, causal: bool = False,
              scale: Any = None, mask: jax.Array | None = None) -> jax.Array:
    """Reference scaled dot-product attention: softmax(Q Kᵀ · scale + mask) V.

    Args:
      q: queries (..., Tq, N, H).
      k: keys (..., Tk, Nkv, H); N must be a multiple of Nkv (grouped-query heads).
      v: values (..., Tk, Nkv, Hv).
      causal: query i attends to keys j <= i + Tk - Tq (bottom-right aligned).
      scale: score scale (may be traced); default 1/√H.
      mask: optional boolean array broadcastable to (..., N, Tq, Tk); True = attend.

    Returns:
      (..., Tq, N, Hv) in the promoted input dtype. Rows with no visible key are 0.

    Materializes the (N, Tq, Tk) weights: O(Tq·Tk·(H + Hv)) time, O(Tq·Tk) memory.
    Reference: Vaswani et al. (2017), eq. 1.
    """
    _check_causal(causal)
    q, k, v, out_dtype = _prepare(q, k, v)
    batch, (tq, n, h), (tk, nkv, _) = q.shape[:-3], q.shape[-3:], k.shape[-3:]
    qg = q.reshape(*batch, tq, nkv, n // nkv, h)
    s = jnp.einsum("...qngh,...tnh->...ngqt", qg, k, precision=_HIGHEST)
    s = s * _scale_of(scale, h, q.dtype)
    valid = jnp.ones((tq, tk), bool)
    if causal:
        valid = _causal_valid(jnp.arange(tq), jnp.arange(tk), tk - tq)
    valid = jnp.broadcast_to(valid, s.shape)
    if mask is not None:
        mask = jnp.asarray(mask)
        if mask.dtype != jnp.bool_:
            raise TypeError(f"`mask` must be boolean (True = attend); got {mask.dtype}.")
        try:
            mask = jnp.broadcast_to(mask, (*batch, n, tq, tk))
        except ValueError as err:
            raise ValueError(f"`mask` of shape {mask.shape} does not broadcast to "
                             f"(..., N, Tq, Tk) = {(*batch, n, tq, tk)}.") from err
        valid = valid & mask.reshape(s.shape)
    s = jnp.where(valid, s, -jnp.inf)
    m = lax.stop_gradient(jnp.max(s, axis=-1, keepdims=True))
    e = jnp.exp(s - jnp.where(jnp.isfinite(m), m, 0.0))
    denom = jnp.sum(e, axis=-1, keepdims=True)
    w = e / jnp.where(denom > 0, denom, 1.0)
    out = jnp.einsum("...ngqt,...tnh->...qngh", w, v, precision=_HIGHEST)
    return out.reshape(*batch, tq, n, v.shape[-1]).astype(out_dtype)


# ------------------------------------------------------------ blockwise kernel
# Internal layout: q (B, Nkv, G, Tq_pad, H), k (B, Nkv, Tk_pad, H), v (B, Nkv, Tk_pad, Hv).
def _dot(spec: str, a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.einsum(spec, a, b, precision=_HIGHEST)


def _num_key_blocks(i: jax.Array, causal: bool, bq: int, bk: int, nk: int,
                    offset: int) -> jax.Array | int:
    """Key blocks that query block i must visit (all, or up to the causal diagonal)."""
    if not causal:
        return nk
    last_visible = (i + 1) * bq + offset  # exclusive bound on visible keys
    return jnp.clip((last_visible + bk - 1) // bk, 0, nk)


def _first_query_block(j: jax.Array, causal: bool, bq: int, bk: int, offset: int) -> Any:
    """First query block that sees any key of key block j."""
    if not causal:
        return 0
    return jnp.maximum(j * bk - offset, 0) // bq


def _block_mask(rows: jax.Array, cols: jax.Array, tk: int, causal: bool,
                offset: int) -> jax.Array:
    valid = jnp.broadcast_to(cols[None, :] < tk, (rows.shape[0], cols.shape[0]))
    if causal:
        valid = valid & _causal_valid(rows, cols, offset)
    return valid


def _flash_forward(q, k, v, scale, causal, bq, bk, tq, tk):
    b, nkv, g, tq_pad, _ = q.shape
    nq, nk, hv = tq_pad // bq, k.shape[2] // bk, v.shape[-1]
    offset = tk - tq
    q_blocks = jnp.moveaxis(q.reshape(b, nkv, g, nq, bq, -1), 3, 0)

    def query_block(args):
        i, qi = args
        rows = i * bq + jnp.arange(bq)

        def key_step(j, carry):
            acc, m_i, l_i = carry
            kj = lax.dynamic_slice_in_dim(k, j * bk, bk, axis=2)
            vj = lax.dynamic_slice_in_dim(v, j * bk, bk, axis=2)
            s = _dot("bngqh,bnth->bngqt", qi, kj) * scale
            valid = _block_mask(rows, j * bk + jnp.arange(bk), tk, causal, offset)
            s = jnp.where(valid, s, -jnp.inf)
            m_new = jnp.maximum(m_i, jnp.max(s, axis=-1))
            m_safe = jnp.where(jnp.isneginf(m_new), 0.0, m_new)
            p = jnp.exp(s - m_safe[..., None])
            alpha = jnp.exp(m_i - m_safe)
            l_i = alpha * l_i + jnp.sum(p, axis=-1)
            acc = alpha[..., None] * acc + _dot("bngqt,bnth->bngqh", p, vj)
            return acc, m_new, l_i

        init = (jnp.zeros((b, nkv, g, bq, hv), q.dtype),
                jnp.full((b, nkv, g, bq), -jnp.inf, q.dtype),
                jnp.zeros((b, nkv, g, bq), q.dtype))
        hi = _num_key_blocks(i, causal, bq, bk, nk, offset)
        acc, m_i, l_i = lax.fori_loop(0, hi, key_step, init)
        seen = l_i > 0
        out = acc / jnp.where(seen, l_i, 1.0)[..., None]
        lse = jnp.where(seen, m_i + jnp.log(jnp.where(seen, l_i, 1.0)), jnp.inf)
        return out, lse

    out, lse = lax.map(query_block, (jnp.arange(nq), q_blocks))
    out = jnp.moveaxis(out, 0, 3).reshape(b, nkv, g, tq_pad, hv)
    lse = jnp.moveaxis(lse, 0, 3).reshape(b, nkv, g, tq_pad)
    return out, lse


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5, 6, 7, 8))
def _flash_core(q, k, v, scale, causal, bq, bk, tq, tk):
    return _flash_forward(q, k, v, scale, causal, bq, bk, tq, tk)[0]


def _flash_core_fwd(q, k, v, scale, causal, bq, bk, tq, tk):
    out, lse = _flash_forward(q, k, v, scale, causal, bq, bk, tq, tk)
    return out, (q, k, v, scale, out, lse)


def _flash_core_bwd(causal, bq, bk, tq, tk, residuals, d_out):
    """Recompute each (query block, key block) of P from Q, K and the log-sum-exp.

    With D = rowsum(dO ∘ O):  dV = Pᵀ dO,  dS = P ∘ (dO Vᵀ − D),  dQ = scale·dS K,
    dK = scale·dSᵀ Q,  d scale = Σ dS ∘ Q Kᵀ. One pass: key blocks outer (`lax.scan`,
    emitting dK, dV blocks), query blocks inner, dQ accumulated in place.
    """
    q, k, v, scale, out, lse = residuals
    nq, nk = q.shape[3] // bq, k.shape[2] // bk
    offset = tk - tq
    delta = jnp.sum(d_out * out, axis=-1)

    def key_block(carry, j):
        dq, dscale = carry
        kj = lax.dynamic_slice_in_dim(k, j * bk, bk, axis=2)
        vj = lax.dynamic_slice_in_dim(v, j * bk, bk, axis=2)
        cols = j * bk + jnp.arange(bk)

        def query_step(i, inner):
            dq, dk, dv, dscale = inner
            qi = lax.dynamic_slice_in_dim(q, i * bq, bq, axis=3)
            doi = lax.dynamic_slice_in_dim(d_out, i * bq, bq, axis=3)
            lse_i = lax.dynamic_slice_in_dim(lse, i * bq, bq, axis=3)
            delta_i = lax.dynamic_slice_in_dim(delta, i * bq, bq, axis=3)
            s_raw = _dot("bngqh,bnth->bngqt", qi, kj)
            valid = _block_mask(i * bq + jnp.arange(bq), cols, tk, causal, offset)
            p = jnp.where(valid, jnp.exp(s_raw * scale - lse_i[..., None]), 0.0)
            dv = dv + _dot("bngqt,bngqh->bnth", p, doi)
            ds = p * (_dot("bngqh,bnth->bngqt", doi, vj) - delta_i[..., None])
            dk = dk + _dot("bngqt,bngqh->bnth", ds, qi)
            dq_i = lax.dynamic_slice_in_dim(dq, i * bq, bq, axis=3)
            dq_i = dq_i + scale * _dot("bngqt,bnth->bngqh", ds, kj)
            dq = lax.dynamic_update_slice_in_dim(dq, dq_i, i * bq, axis=3)
            return dq, dk, dv, dscale + jnp.sum(ds * s_raw)

        lo = _first_query_block(j, causal, bq, bk, offset)
        init = (dq, jnp.zeros_like(kj), jnp.zeros_like(vj), dscale)
        dq, dk, dv, dscale = lax.fori_loop(lo, nq, query_step, init)
        return (dq, dscale), (scale * dk, dv)

    init = (jnp.zeros_like(q), jnp.zeros_like(scale))
    (dq, dscale), (dk, dv) = lax.scan(key_block, init, jnp.arange(nk))
    dk = jnp.moveaxis(dk, 0, 2).reshape(k.shape)
    dv = jnp.moveaxis(dv, 0, 2).reshape(v.shape)
    return dq, dk, dv, dscale


_flash_core.defvjp(_flash_core_fwd, _flash_core_bwd)


def flash_attention(q: jax.Array, k: jax.Array, v: jax.Array, *, causal: bool = False,
                    scale: Any = None, block_q: int = 128, block_k: int = 128) -> jax.Array:
    """Blockwise attention with the online softmax: O(T·H) memory forward and backward.

    For each block of `block_q` queries, loops over blocks of `block_k` keys keeping
    the running max m, running sum l and accumulator acc:
    m' = max(m, rowmax S), acc ← e^{m−m'} acc + e^{S−m'} V, l ← e^{m−m'} l + rowsum e^{S−m'};
    output acc / l. The `custom_vjp` backward recomputes P = exp(S − lse) block by block.

    Args:
      q: queries (..., Tq, N, H).
      k: keys (..., Tk, Nkv, H); N a multiple of Nkv (grouped-query heads).
      v: values (..., Tk, Nkv, Hv).
      causal: query i attends to keys j <= i + Tk - Tq (bottom-right aligned, as in
        FlashAttention-2; causal blocks above the diagonal are skipped).
      scale: score scale (may be traced; differentiable); default 1/√H.
      block_q: static query block size (clipped to Tq; Tq is zero-padded to a multiple).
      block_k: static key block size (clipped to Tk; padded keys are masked out).

    Returns:
      (..., Tq, N, Hv), equal to `attention(q, k, v, causal=causal, scale=scale)` up to
      rounding; rows with no visible key are 0.

    Time O(Tq·Tk·(H + Hv)) (about half when causal); memory O((Tq + Tk)·(H + Hv) +
    block_q·block_k) per head, for the value and for `jax.grad`.
    Reference: Dao et al., "FlashAttention" (2022), Algorithms 1-2; Dao (2023).
    """
    bq0 = _validate.check_positive_int(block_q, "block_q")
    bk0 = _validate.check_positive_int(block_k, "block_k")
    _check_causal(causal)
    q, k, v, out_dtype = _prepare(q, k, v)
    batch, (tq, n, h), (tk, nkv, hv) = q.shape[:-3], q.shape[-3:], v.shape[-3:]
    if tq == 0 or tk == 0:
        raise ValueError(f"`q` and `k` need at least one time step; got Tq={tq}, Tk={tk}.")
    bq, bk = min(bq0, tq), min(bk0, tk)
    tq_pad, tk_pad = -(-tq // bq) * bq, -(-tk // bk) * bk
    g = n // nkv
    # (..., T, N, H) -> (B, Nkv, G, T, H), zero-padded along T.
    qi = q.reshape(-1, tq, nkv, g, h).transpose(0, 2, 3, 1, 4)
    ki = k.reshape(-1, tk, nkv, h).transpose(0, 2, 1, 3)
    vi = v.reshape(-1, tk, nkv, hv).transpose(0, 2, 1, 3)
    qi = jnp.pad(qi, ((0, 0),) * 3 + ((0, tq_pad - tq), (0, 0)))
    ki = jnp.pad(ki, ((0, 0),) * 2 + ((0, tk_pad - tk), (0, 0)))
    vi = jnp.pad(vi, ((0, 0),) * 2 + ((0, tk_pad - tk), (0, 0)))
    out = _flash_core(qi, ki, vi, _scale_of(scale, h, q.dtype), bool(causal), bq, bk, tq, tk)
    out = out[:, :, :, :tq].transpose(0, 3, 1, 2, 4)
    return out.reshape(*batch, tq, n, hv).astype(out_dtype)


# ----------------------------------------------------------------- multi-head
_PROJECTIONS = ("wq", "wk", "wv", "wo")


def multi_head_attention(params: Mapping[str, jax.Array], x: jax.Array, *, num_heads: int,
                         causal: bool = False) -> jax.Array:
    """Multi-head self-attention: project, split heads, attend (blockwise), merge, project.

    y = concat_h(attention(x Wq_h + bq_h, x Wk_h + bk_h, x Wv_h + bv_h)) Wo + bo.

    Args:
      params: pytree (mapping) with "wq" (D, N·H), "wk" and "wv" (D, Nkv·H), "wo" (N·Hv, Do)
        and optional biases "bq", "bk", "bv", "bo" (1-D). Nkv < N gives grouped-query heads.
      x: inputs (..., T, D).
      num_heads: static number N of query heads.
      causal: causal self-attention.

    Returns:
      (..., T, Do). Attention runs through `flash_attention` (O(T) memory).

    Cost O(T·D·(N·H)) for the projections plus O(T²·N·H) for attention.
    Reference: Vaswani et al. (2017), section 3.2.2.
    """
    num_heads = _validate.check_positive_int(num_heads, "num_heads")
    if not isinstance(params, Mapping):
        raise TypeError(f"`params` must be a mapping with keys {_PROJECTIONS}; "
                        f"got {type(params).__name__}.")
    missing = [name for name in _PROJECTIONS if name not in params]
    if missing:
        raise ValueError(f"`params` is missing {missing}; expected keys {_PROJECTIONS}.")
    x = _validate.as_float_array(x, "x", allow_complex=False)
    _validate.check_ndim(x, "x", min_ndim=2)
    w = {name: _validate.as_float_array(params[name], f"params['{name}']",
                                        allow_complex=False) for name in _PROJECTIONS}
    for name in _PROJECTIONS:
        _validate.check_ndim(w[name], f"params['{name}']", ndim=2)
        if name != "wo" and w[name].shape[0] != x.shape[-1]:
            raise ValueError(f"`params['{name}']` has shape {w[name].shape}, but its rows must "
                             f"match the model dim of `x` ({x.shape[-1]}).")
    if w["wq"].shape[1] % num_heads:
        raise ValueError(f"`params['wq']` has {w['wq'].shape[1]} columns, not a multiple of "
                         f"`num_heads`={num_heads}.")
    head_dim = w["wq"].shape[1] // num_heads
    if w["wk"].shape[1] % head_dim:
        raise ValueError(f"`params['wk']` must have a multiple of the head dim {head_dim} "
                         f"columns; got shape {w['wk'].shape}.")
    num_kv = w["wk"].shape[1] // head_dim
    if w["wv"].shape[1] % num_kv or w["wo"].shape[0] != num_heads * (w["wv"].shape[1] // num_kv):
        raise ValueError(f"`params['wv']` {w['wv'].shape} and `params['wo']` "
                         f"{w['wo'].shape} do not match {num_heads} heads.")

    def project(name: str) -> jax.Array:
        y = jnp.matmul(x, w[name], precision=_HIGHEST)
        bias = params.get("b" + name[1:])
        return y if bias is None else y + bias

    t = x.shape[-2]
    q = project("wq").reshape(*x.shape[:-1], num_heads, head_dim)
    k = project("wk").reshape(*x.shape[:-1], num_kv, head_dim)
    v = project("wv").reshape(*x.shape[:-1], num_kv, -1)
    o = flash_attention(q, k, v, causal=causal)
    y = jnp.matmul(o.reshape(*x.shape[:-2], t, -1), w["wo"], precision=_HIGHEST)
    return y if params.get("bo") is None else y + params["bo"]
