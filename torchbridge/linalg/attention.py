"""Attention in PyTorch: reference scaled dot-product attention and multi-head attention.

Twins of `jaxla.attention` and `jaxla.multi_head_attention`, with the same
layout (..., T, N, H) (time, heads, head dim; like `jax.nn.dot_product_attention`,
not SDPA's (B, H, T, D)), grouped-query heads, bottom-right aligned causal
masking for Tq ≠ Tk (SDPA's `is_causal` aligns top-left), and 0 for query rows
that see no key (SDPA's math path gives NaN). `flash_attention` is the blockwise
twin: Python loops over query and key blocks with the online softmax, each query
block under `torch.utils.checkpoint`, so autograd keeps O(T·H) activations and
recomputes the blocks in the backward. (The GPU version is the Triton kernel
`kernels.flash_attention`, layout (B, H, T, D).)

Reference: Vaswani et al., "Attention is all you need" (2017), section 3.2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch.utils.checkpoint import checkpoint

from torchbridge.linalg import _validate

_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _as_float(x: torch.Tensor, name: str) -> torch.Tensor:
    """Shared tensor/int-promotion check, then only the real dtypes attention computes in."""
    x = _validate.as_float(x, name)
    if x.dtype not in _FLOATS:
        raise TypeError(f"`{name}` must have a real floating dtype; got {x.dtype}.")
    return x


def _check_positive(value: int, name: str) -> None:
    # Attention's own wording (ValueError for every bad value), matched by the tests.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive int; got {value!r}.")


def _heads_first(q, k, v):
    """Validate (..., T, N, H) inputs; return (..., N, T, H) work-dtype views and out dtype."""
    q, k, v = _as_float(q, "q"), _as_float(k, "k"), _as_float(v, "v")
    for x, name in ((q, "q"), (k, "k"), (v, "v")):
        if x.ndim < 3:
            raise ValueError(f"`{name}` must have shape (..., T, N, H); got {tuple(x.shape)}.")
    if k.shape[:-1] != v.shape[:-1] or q.shape[:-3] != k.shape[:-3] or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"incompatible shapes `q` {tuple(q.shape)}, `k` {tuple(k.shape)}, "
                         f"`v` {tuple(v.shape)}.")
    n, n_kv = q.shape[-2], k.shape[-2]
    if n % n_kv:
        raise ValueError(f"the number of query heads ({n}, `q`) must be a multiple of the "
                         f"number of key/value heads ({n_kv}, `k`).")
    out_dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), v.dtype)
    work = torch.promote_types(out_dtype, torch.float32)
    # Each key/value head serves n // n_kv consecutive query heads.
    qh = q.to(work).transpose(-3, -2)
    kh = k.to(work).transpose(-3, -2).repeat_interleave(n // n_kv, dim=-3)
    vh = v.to(work).transpose(-3, -2).repeat_interleave(n // n_kv, dim=-3)
    return qh, kh, vh, out_dtype


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool = False,
              scale: float | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(Q Kᵀ · scale + mask) V on (..., T, N, H) tensors.

    Args:
      q: (..., Tq, N, H); k: (..., Tk, Nkv, H); v: (..., Tk, Nkv, Hv), N a multiple of Nkv.
      causal: query i sees keys j <= i + Tk − Tq (bottom-right aligned).
      scale: score scale; default 1/√H.
      mask: optional boolean tensor broadcastable to (..., N, Tq, Tk); True = attend.

    Returns:
      (..., Tq, N, Hv) in the promoted dtype (16-bit inputs are computed in float32);
      rows with no visible key are 0.
    """
    qh, kh, vh, out_dtype = _heads_first(q, k, v)
    t_q, t_k = q.shape[-3], k.shape[-3]
    scores = (qh @ kh.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]) if scale is None
                                             else scale)
    allowed = torch.ones(t_q, t_k, dtype=torch.bool, device=q.device)
    if causal:
        allowed = torch.tril(allowed, diagonal=t_k - t_q)
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError("`mask` must be a boolean tensor (True = attend).")
        allowed = allowed & mask
    scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    weights = torch.where(allowed.any(-1, keepdim=True), weights, torch.zeros_like(weights))
    return (weights @ vh).transpose(-3, -2).to(out_dtype)


def _query_block(q_blk: torch.Tensor, k: torch.Tensor, v: torch.Tensor, first_row: int,
                 scale: float, causal: bool, offset: int, block_k: int) -> torch.Tensor:
    """Online softmax of one query block over key blocks (stops at the causal diagonal)."""
    rows = first_row + torch.arange(q_blk.shape[-2], device=q_blk.device)
    m = torch.full(q_blk.shape[:-1], float("-inf"), dtype=q_blk.dtype, device=q_blk.device)
    l = torch.zeros_like(m)
    acc = torch.zeros(*q_blk.shape[:-1], v.shape[-1], dtype=q_blk.dtype, device=q_blk.device)
    last_key = int(rows[-1]) + offset if causal else k.shape[-2] - 1
    for start in range(0, min(k.shape[-2], last_key + 1), block_k):
        s = (q_blk @ k[..., start:start + block_k, :].transpose(-2, -1)) * scale
        if causal:
            cols = start + torch.arange(s.shape[-1], device=s.device)
            s = s.masked_fill(cols[None, :] > rows[:, None] + offset, float("-inf"))
        # The running max only stabilizes exp(); it cancels in acc / l, so no gradient.
        m_new = torch.maximum(m, s.amax(-1)).detach()
        m_safe = torch.where(torch.isinf(m_new), torch.zeros_like(m_new), m_new)
        p = torch.exp(s - m_safe[..., None])
        alpha = torch.exp(m - m_safe)
        l = alpha * l + p.sum(-1)
        acc = alpha[..., None] * acc + p @ v[..., start:start + block_k, :]
        m = m_new
    return torch.where(l[..., None] > 0, acc / l.clamp_min(torch.finfo(l.dtype).tiny)[..., None],
                       torch.zeros_like(acc))


def flash_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *,
                    causal: bool = False, scale: float | None = None, block_q: int = 128,
                    block_k: int = 128) -> torch.Tensor:
    """Blockwise attention with the online softmax (FlashAttention's recurrence).

    For each block of `block_q` queries and each block of `block_k` keys:
    m' = max(m, rowmax S), acc ← e^{m−m'} acc + e^{S−m'} V, l ← e^{m−m'} l + rowsum e^{S−m'};
    output acc / l. Same arguments, layout and result as `attention` (no mask); under
    autograd each query block is checkpointed, so the backward recomputes it.
    Reference: Dao et al., "FlashAttention" (2022), Algorithm 1.
    """
    _check_positive(block_q, "block_q")
    _check_positive(block_k, "block_k")
    qh, kh, vh, out_dtype = _heads_first(q, k, v)
    t_q, t_k = qh.shape[-2], kh.shape[-2]
    scale = 1.0 / math.sqrt(qh.shape[-1]) if scale is None else scale
    track = torch.is_grad_enabled() and any(x.requires_grad for x in (qh, kh, vh))
    blocks = []
    for start in range(0, t_q, block_q):
        args = (qh[..., start:start + block_q, :], kh, vh, start, scale, causal, t_k - t_q,
                block_k)
        blocks.append(checkpoint(_query_block, *args, use_reentrant=False) if track
                      else _query_block(*args))
    return torch.cat(blocks, dim=-2).transpose(-3, -2).to(out_dtype)


def multi_head_attention(params: Mapping[str, torch.Tensor], x: torch.Tensor, *,
                         num_heads: int, causal: bool = False) -> torch.Tensor:
    """Multi-head self-attention with projection parameters in a mapping.

    y = concat_h(attention(x Wq_h + bq_h, x Wk_h + bk_h, x Wv_h + bv_h)) Wo + bo, with
    params "wq" (D, N·H), "wk"/"wv" (D, Nkv·H), "wo" (N·Hv, Do), optional "bq", "bk",
    "bv", "bo". x: (..., T, D); returns (..., T, Do).
    """
    _check_positive(num_heads, "num_heads")
    if not isinstance(params, Mapping):
        raise TypeError(f"`params` must be a mapping; got {type(params).__name__}.")
    missing = [name for name in ("wq", "wk", "wv", "wo") if name not in params]
    if missing:
        raise ValueError(f"`params` is missing {missing}.")
    x = _as_float(x, "x")
    if params["wq"].shape[-1] % num_heads:
        raise ValueError(f"`params['wq']` has {params['wq'].shape[-1]} columns, not a "
                         f"multiple of `num_heads`={num_heads}.")
    head_dim = params["wq"].shape[-1] // num_heads

    def linear(name: str, inputs: torch.Tensor) -> torch.Tensor:
        out = inputs @ params["w" + name]
        bias = params.get("b" + name)
        return out if bias is None else out + bias

    q = linear("q", x).unflatten(-1, (num_heads, head_dim))
    k = linear("k", x).unflatten(-1, (-1, head_dim))
    v = linear("v", x).unflatten(-1, (k.shape[-2], -1))
    heads = attention(q, k, v, causal=causal)
    return linear("o", heads.flatten(-2))
