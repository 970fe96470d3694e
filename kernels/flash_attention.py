"""Flash attention forward and backward in Triton, as one `torch.autograd.Function`.

Layout (B, H, T, D) like `torch.nn.functional.scaled_dot_product_attention`.

Forward (FlashAttention-2 style): one program per block of BLOCK_M queries and
(batch, head); it walks over blocks of BLOCK_N keys with `tl.dot`, keeping the
online-softmax state `m_i` (running row max), `l_i` (running row sum) and `acc`
in base 2 (`exp2`, scores pre-multiplied by scale·LOG2E), and saves the
log-sum-exp (base 2) for the backward. Causal key blocks are split into fully
visible ones (no mask arithmetic) and diagonal ones (masked).

Backward, deterministic (no atomics): a preprocess kernel computes
delta = rowsum(dO ∘ O); one program per key block (and key/value head) owns
dK, dV and loops over every query block of every query head in its group;
a separate program per query block owns dQ and loops over the key blocks.
P is recomputed from Q, K and the saved log-sum-exp:
    dV = Pᵀ dO,  dS = P ∘ (dO Vᵀ − delta),  dQ = scale·dS K,  dK = scale·dSᵀ Q.

Coverage beyond the Triton tutorial kernel: any T (tails masked with
`mask=`/`other=`), Tq ≠ Tk (causal aligned bottom-right like FlashAttention-2:
query i sees keys j <= i + Tk − Tq; a query that sees no key returns 0), any
head dim ≤ 256 (padded to a power of two ≥ 16 and masked), float16 / bfloat16 /
float32 (float32 products with `input_precision="ieee"`, no TF32), arbitrary
strides (passed explicitly), grouped-query heads (Hq a multiple of Hkv), and a
backward for causal and non-causal attention alike.

On machines without CUDA the kernels run through Triton's interpreter when
`TRITON_INTERPRET=1` was set before triton was imported (tests do this); the
interpreter uses one small block configuration instead of autotuning.

References: Dao et al., "FlashAttention" (2022); Dao, "FlashAttention-2" (2023).
"""

from __future__ import annotations

import math
import numbers
import os

import torch
import triton
import triton.language as tl

LOG2E = tl.constexpr(1.4426950408889634)  # log2(e): exp(x) = exp2(x · LOG2E)
MAX_HEAD_DIM = 256
_INTERPRET = os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")
_DTYPES = (torch.float16, torch.bfloat16, torch.float32)


# ---------------------------------------------------------------------- forward
@triton.jit
def _dot(a, b, DOT_PRECISION: tl.constexpr):
    """tl.dot with float32 accumulation; "ieee" for float32 inputs (no TF32).

    "upcast" multiplies in float32 after an exact widening: the interpreter's
    tl.dot mishandles bfloat16 (it multiplies the raw 16-bit patterns), and
    bf16·bf16 products are exact in float32, so the result matches the GPU's.
    """
    if DOT_PRECISION == "upcast":
        return tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="ieee")
    else:
        return tl.dot(a, b, input_precision=DOT_PRECISION)


@triton.jit
def _attn_fwd_inner(acc, m_i, l_i, q, K, V, stride_kn, stride_kd, stride_vn, stride_vd,
                    offs_m, offs_d, lo, hi, qk_scale, N_CTX_K, CAUSAL_OFFSET,
                    HEAD_DIM: tl.constexpr, BLOCK_N: tl.constexpr, CAUSAL: tl.constexpr,
                    MASKED: tl.constexpr, DOT_PRECISION: tl.constexpr):
    """Online softmax over key blocks [lo, hi); MASKED blocks apply tail/causal masks."""
    d_mask = offs_d < HEAD_DIM
    for start_n in range(lo, hi, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        n_mask = offs_n < N_CTX_K
        kT = tl.load(K + offs_n[None, :] * stride_kn + offs_d[:, None] * stride_kd,
                     mask=n_mask[None, :] & d_mask[:, None], other=0.0)
        qk = _dot(q, kT, DOT_PRECISION) * qk_scale
        if MASKED:
            valid = n_mask[None, :]
            if CAUSAL:
                valid = valid & (offs_n[None, :] <= offs_m[:, None] + CAUSAL_OFFSET)
            qk = tl.where(valid, qk, float("-inf"))
            m_new = tl.maximum(m_i, tl.max(qk, 1))
            m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)  # rows with no key yet
        else:
            m_new = tl.maximum(m_i, tl.max(qk, 1))
            m_safe = m_new
        p = tl.math.exp2(qk - m_safe[:, None])
        alpha = tl.math.exp2(m_i - m_safe)
        l_i = l_i * alpha + tl.sum(p, 1)
        v = tl.load(V + offs_n[:, None] * stride_vn + offs_d[None, :] * stride_vd,
                    mask=n_mask[:, None] & d_mask[None, :], other=0.0)
        acc = acc * alpha[:, None] + _dot(p.to(v.dtype), v, DOT_PRECISION)
        m_i = m_new
    return acc, m_i, l_i


@triton.jit
def _attn_fwd(Q, K, V, Out, Lse, sm_scale,
              stride_qb, stride_qh, stride_qm, stride_qd,
              stride_kb, stride_kh, stride_kn, stride_kd,
              stride_vb, stride_vh, stride_vn, stride_vd,
              stride_ob, stride_oh, stride_om, stride_od,
              H, GROUP, N_CTX_Q, N_CTX_K,
              HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, CAUSAL: tl.constexpr,
              DOT_PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    start_m = tl.program_id(0)
    off_bh = tl.program_id(1)
    off_b = (off_bh // H).to(tl.int64)
    off_h = (off_bh % H).to(tl.int64)
    off_hk = off_h // GROUP
    Q += off_b * stride_qb + off_h * stride_qh
    K += off_b * stride_kb + off_hk * stride_kh
    V += off_b * stride_vb + off_hk * stride_vh
    Out += off_b * stride_ob + off_h * stride_oh
    Lse += off_bh.to(tl.int64) * N_CTX_Q

    offs_m = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    io_mask = (offs_m[:, None] < N_CTX_Q) & (offs_d[None, :] < HEAD_DIM)
    q = tl.load(Q + offs_m[:, None] * stride_qm + offs_d[None, :] * stride_qd,
                mask=io_mask, other=0.0)
    qk_scale = sm_scale * LOG2E
    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)

    causal_offset = N_CTX_K - N_CTX_Q
    n_full = (N_CTX_K // BLOCK_N) * BLOCK_N  # key blocks without a tail
    if CAUSAL:
        # Keys < (first row + offset + 1) are visible to every row of this block.
        first_visible = tl.maximum(start_m * BLOCK_M + causal_offset + 1, 0)
        hi = tl.minimum(tl.maximum((start_m + 1) * BLOCK_M + causal_offset, 0), N_CTX_K)
        mid = tl.minimum((first_visible // BLOCK_N) * BLOCK_N, tl.minimum(n_full, hi))
    else:
        hi = N_CTX_K
        mid = n_full
    acc, m_i, l_i = _attn_fwd_inner(acc, m_i, l_i, q, K, V, stride_kn, stride_kd,
                                    stride_vn, stride_vd, offs_m, offs_d, 0, mid, qk_scale,
                                    N_CTX_K, causal_offset, HEAD_DIM, BLOCK_N, CAUSAL,
                                    False, DOT_PRECISION)
    acc, m_i, l_i = _attn_fwd_inner(acc, m_i, l_i, q, K, V, stride_kn, stride_kd,
                                    stride_vn, stride_vd, offs_m, offs_d, mid, hi, qk_scale,
                                    N_CTX_K, causal_offset, HEAD_DIM, BLOCK_N, CAUSAL,
                                    True, DOT_PRECISION)
    seen = l_i > 0.0
    l_safe = tl.where(seen, l_i, 1.0)
    lse = tl.where(seen, m_i + tl.math.log2(l_safe), float("inf"))  # +inf: P = 0 in bwd
    tl.store(Lse + offs_m, lse, mask=offs_m < N_CTX_Q)
    out = acc / l_safe[:, None]
    tl.store(Out + offs_m[:, None] * stride_om + offs_d[None, :] * stride_od,
             out.to(Out.dtype.element_ty), mask=io_mask)


# --------------------------------------------------------------------- backward
@triton.jit
def _attn_bwd_preprocess(O, DO, Delta,
                         stride_ob, stride_oh, stride_om, stride_od,
                         stride_dob, stride_doh, stride_dom, stride_dod,
                         H, N_CTX_Q,
                         HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_M: tl.constexpr):
    """delta = rowsum(dO ∘ O) in float32, stored (B, H, Tq)."""
    start_m = tl.program_id(0)
    off_bh = tl.program_id(1)
    off_b = (off_bh // H).to(tl.int64)
    off_h = (off_bh % H).to(tl.int64)
    offs_m = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    mask = (offs_m[:, None] < N_CTX_Q) & (offs_d[None, :] < HEAD_DIM)
    o = tl.load(O + off_b * stride_ob + off_h * stride_oh + offs_m[:, None] * stride_om
                + offs_d[None, :] * stride_od, mask=mask, other=0.0)
    do = tl.load(DO + off_b * stride_dob + off_h * stride_doh + offs_m[:, None] * stride_dom
                 + offs_d[None, :] * stride_dod, mask=mask, other=0.0)
    delta = tl.sum(o.to(tl.float32) * do.to(tl.float32), 1)
    tl.store(Delta + off_bh.to(tl.int64) * N_CTX_Q + offs_m, delta, mask=offs_m < N_CTX_Q)


@triton.jit
def _attn_bwd_dkdv_inner(dk, dv, k, v, Q, DO, Lse, Delta,
                         stride_qm, stride_qd, stride_dom, stride_dod,
                         offs_n, offs_d, lo, hi, qk_scale, N_CTX_Q, CAUSAL_OFFSET,
                         HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, MASKED: tl.constexpr,
                         DOT_PRECISION: tl.constexpr):
    """Accumulate dK (unscaled) and dV of one key block over query blocks [lo, hi).

    MASKED blocks straddle the causal diagonal; rows past Tq need no mask (lse = +inf).
    """
    d_mask = offs_d < HEAD_DIM
    for start_m in range(lo, hi, BLOCK_M):
        offs_m = start_m + tl.arange(0, BLOCK_M)
        m_mask = offs_m < N_CTX_Q
        qT = tl.load(Q + offs_m[None, :] * stride_qm + offs_d[:, None] * stride_qd,
                     mask=m_mask[None, :] & d_mask[:, None], other=0.0)
        # Rows past Tq get lse = +inf, hence P = 0.
        lse = tl.load(Lse + offs_m, mask=m_mask, other=float("inf"))
        pT = tl.math.exp2(_dot(k, qT, DOT_PRECISION) * qk_scale
                          - lse[None, :])
        if MASKED:
            pT = tl.where(offs_n[:, None] <= offs_m[None, :] + CAUSAL_OFFSET, pT, 0.0)
        do = tl.load(DO + offs_m[:, None] * stride_dom + offs_d[None, :] * stride_dod,
                     mask=m_mask[:, None] & d_mask[None, :], other=0.0)
        dv += _dot(pT.to(do.dtype), do, DOT_PRECISION)
        delta = tl.load(Delta + offs_m, mask=m_mask, other=0.0)
        dpT = _dot(v, tl.trans(do), DOT_PRECISION)
        dsT = pT * (dpT - delta[None, :])
        dk += _dot(dsT.to(qT.dtype), tl.trans(qT), DOT_PRECISION)
    return dk, dv


@triton.jit
def _attn_bwd_dkdv(Q, K, V, DO, DK, DV, Lse, Delta, sm_scale,
                   stride_qb, stride_qh, stride_qm, stride_qd,
                   stride_kb, stride_kh, stride_kn, stride_kd,
                   stride_vb, stride_vh, stride_vn, stride_vd,
                   stride_dob, stride_doh, stride_dom, stride_dod,
                   stride_dkb, stride_dkh, stride_dkn, stride_dkd,
                   stride_dvb, stride_dvh, stride_dvn, stride_dvd,
                   H, H_KV, GROUP, N_CTX_Q, N_CTX_K,
                   HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, CAUSAL: tl.constexpr,
                   DOT_PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """One program per (key block, batch, key/value head): sums over its GROUP query heads."""
    start_n = tl.program_id(0) * BLOCK_N
    off_bhk = tl.program_id(1)
    off_b = (off_bhk // H_KV).to(tl.int64)
    off_hk = (off_bhk % H_KV).to(tl.int64)
    offs_n = start_n + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    kv_mask = (offs_n[:, None] < N_CTX_K) & (offs_d[None, :] < HEAD_DIM)
    k = tl.load(K + off_b * stride_kb + off_hk * stride_kh + offs_n[:, None] * stride_kn
                + offs_d[None, :] * stride_kd, mask=kv_mask, other=0.0)
    v = tl.load(V + off_b * stride_vb + off_hk * stride_vh + offs_n[:, None] * stride_vn
                + offs_d[None, :] * stride_vd, mask=kv_mask, other=0.0)
    dk = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    qk_scale = sm_scale * LOG2E
    causal_offset = N_CTX_K - N_CTX_Q
    if CAUSAL:
        # Query i sees key j iff j <= i + offset: rows from start_n - offset on see some
        # key of this block, rows from start_n + BLOCK_N - 1 - offset on see all of them.
        lo = (tl.maximum(start_n - causal_offset, 0) // BLOCK_M) * BLOCK_M
        straddle = tl.maximum(start_n + BLOCK_N - 1 - causal_offset - lo, 0)
        mid = tl.minimum(lo + tl.cdiv(straddle, BLOCK_M) * BLOCK_M, N_CTX_Q)
    else:
        lo = 0
        mid = 0
    for g in range(0, GROUP):
        off_h = off_hk * GROUP + g
        row = (off_b * H + off_h) * N_CTX_Q
        Q_h = Q + off_b * stride_qb + off_h * stride_qh
        DO_h = DO + off_b * stride_dob + off_h * stride_doh
        dk, dv = _attn_bwd_dkdv_inner(
            dk, dv, k, v, Q_h, DO_h, Lse + row, Delta + row, stride_qm, stride_qd,
            stride_dom, stride_dod, offs_n, offs_d, lo, mid, qk_scale, N_CTX_Q,
            causal_offset, HEAD_DIM, BLOCK_M, True, DOT_PRECISION)
        dk, dv = _attn_bwd_dkdv_inner(
            dk, dv, k, v, Q_h, DO_h, Lse + row, Delta + row, stride_qm, stride_qd,
            stride_dom, stride_dod, offs_n, offs_d, tl.maximum(lo, mid), N_CTX_Q, qk_scale,
            N_CTX_Q, causal_offset, HEAD_DIM, BLOCK_M, False, DOT_PRECISION)
    dk = dk * sm_scale
    tl.store(DK + off_b * stride_dkb + off_hk * stride_dkh + offs_n[:, None] * stride_dkn
             + offs_d[None, :] * stride_dkd, dk.to(DK.dtype.element_ty), mask=kv_mask)
    tl.store(DV + off_b * stride_dvb + off_hk * stride_dvh + offs_n[:, None] * stride_dvn
             + offs_d[None, :] * stride_dvd, dv.to(DV.dtype.element_ty), mask=kv_mask)


@triton.jit
def _attn_bwd_dq_inner(dq, q, do, lse, delta, K, V, stride_kn, stride_kd, stride_vn, stride_vd,
                       offs_m, offs_d, lo, hi, qk_scale, N_CTX_K, CAUSAL_OFFSET,
                       HEAD_DIM: tl.constexpr, BLOCK_N: tl.constexpr, CAUSAL: tl.constexpr,
                       MASKED: tl.constexpr, DOT_PRECISION: tl.constexpr):
    """Accumulate dQ (unscaled) of one query block over key blocks [lo, hi).

    MASKED blocks hold the key tail or straddle the causal diagonal.
    """
    d_mask = offs_d < HEAD_DIM
    for start_n in range(lo, hi, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        n_mask = offs_n < N_CTX_K
        kT = tl.load(K + offs_n[None, :] * stride_kn + offs_d[:, None] * stride_kd,
                     mask=n_mask[None, :] & d_mask[:, None], other=0.0)
        vT = tl.load(V + offs_n[None, :] * stride_vn + offs_d[:, None] * stride_vd,
                     mask=n_mask[None, :] & d_mask[:, None], other=0.0)
        p = tl.math.exp2(_dot(q, kT, DOT_PRECISION) * qk_scale
                         - lse[:, None])
        if MASKED:
            valid = n_mask[None, :]
            if CAUSAL:
                valid = valid & (offs_n[None, :] <= offs_m[:, None] + CAUSAL_OFFSET)
            p = tl.where(valid, p, 0.0)
        dp = _dot(do, vT, DOT_PRECISION)
        ds = p * (dp - delta[:, None])
        dq += _dot(ds.to(kT.dtype), tl.trans(kT), DOT_PRECISION)
    return dq


@triton.jit
def _attn_bwd_dq(Q, K, V, DO, DQ, Lse, Delta, sm_scale,
                 stride_qb, stride_qh, stride_qm, stride_qd,
                 stride_kb, stride_kh, stride_kn, stride_kd,
                 stride_vb, stride_vh, stride_vn, stride_vd,
                 stride_dob, stride_doh, stride_dom, stride_dod,
                 stride_dqb, stride_dqh, stride_dqm, stride_dqd,
                 H, GROUP, N_CTX_Q, N_CTX_K,
                 HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, CAUSAL: tl.constexpr,
                 DOT_PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """One program per (query block, batch, query head)."""
    start_m = tl.program_id(0)
    off_bh = tl.program_id(1)
    off_b = (off_bh // H).to(tl.int64)
    off_h = (off_bh % H).to(tl.int64)
    off_hk = off_h // GROUP
    offs_m = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    m_mask = offs_m < N_CTX_Q
    io_mask = m_mask[:, None] & (offs_d[None, :] < HEAD_DIM)
    q = tl.load(Q + off_b * stride_qb + off_h * stride_qh + offs_m[:, None] * stride_qm
                + offs_d[None, :] * stride_qd, mask=io_mask, other=0.0)
    do = tl.load(DO + off_b * stride_dob + off_h * stride_doh + offs_m[:, None] * stride_dom
                 + offs_d[None, :] * stride_dod, mask=io_mask, other=0.0)
    row = off_bh.to(tl.int64) * N_CTX_Q
    lse = tl.load(Lse + row + offs_m, mask=m_mask, other=float("inf"))
    delta = tl.load(Delta + row + offs_m, mask=m_mask, other=0.0)
    causal_offset = N_CTX_K - N_CTX_Q
    n_full = (N_CTX_K // BLOCK_N) * BLOCK_N
    if CAUSAL:  # same block split as the forward
        first_visible = tl.maximum(start_m * BLOCK_M + causal_offset + 1, 0)
        hi = tl.minimum(tl.maximum((start_m + 1) * BLOCK_M + causal_offset, 0), N_CTX_K)
        mid = tl.minimum((first_visible // BLOCK_N) * BLOCK_N, tl.minimum(n_full, hi))
    else:
        hi = N_CTX_K
        mid = n_full
    K += off_b * stride_kb + off_hk * stride_kh
    V += off_b * stride_vb + off_hk * stride_vh
    qk_scale = sm_scale * LOG2E
    dq = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    dq = _attn_bwd_dq_inner(dq, q, do, lse, delta, K, V, stride_kn, stride_kd, stride_vn,
                            stride_vd, offs_m, offs_d, 0, mid, qk_scale, N_CTX_K, causal_offset,
                            HEAD_DIM, BLOCK_N, CAUSAL, False, DOT_PRECISION)
    dq = _attn_bwd_dq_inner(dq, q, do, lse, delta, K, V, stride_kn, stride_kd, stride_vn,
                            stride_vd, offs_m, offs_d, mid, hi, qk_scale, N_CTX_K, causal_offset,
                            HEAD_DIM, BLOCK_N, CAUSAL, True, DOT_PRECISION)
    dq = dq * sm_scale
    tl.store(DQ + off_b * stride_dqb + off_h * stride_dqh + offs_m[:, None] * stride_dqm
             + offs_d[None, :] * stride_dqd, dq.to(DQ.dtype.element_ty), mask=io_mask)


# ------------------------------------------------------------------- autotuning
_TUNE_KEY = ["N_CTX_Q", "N_CTX_K", "HEAD_DIM", "CAUSAL", "DOT_PRECISION"]
_INTERPRET_META = {"BLOCK_M": 16, "BLOCK_N": 16}  # the interpreter: one small tile


def _configs(shapes: tuple[tuple[int, int], ...]) -> list[triton.Config]:
    return [triton.Config({"BLOCK_M": m, "BLOCK_N": n}, num_warps=w, num_stages=s)
            for (m, n) in shapes for w in (4, 8) for s in (2, 3, 4)]


# Hopper/Ampere-sized tiles; pruned to the problem before benchmarking.
_FWD_CONFIGS = _configs(((128, 128), (128, 64), (128, 32), (64, 64), (64, 32)))
_BWD_CONFIGS = _configs(((128, 64), (64, 128), (64, 64), (32, 64), (64, 32), (32, 32)))


def _prune(configs, named_args, **kwargs):
    """Drop tiles larger than the problem or than shared memory / registers allow."""
    t_q = max(16, triton.next_power_of_2(named_args["N_CTX_Q"]))
    t_k = max(16, triton.next_power_of_2(named_args["N_CTX_K"]))
    block_d = kwargs["BLOCK_D"]
    elem = named_args["Q"].element_size()
    kept = []
    for c in configs:
        m, n = c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"]
        if m > t_q or n > t_k:
            continue
        smem = (m + 2 * n * c.num_stages) * block_d * elem
        if smem > 160 * 1024:
            continue
        if max(m, n) * block_d > 128 * 128 and c.num_warps < 8:
            continue  # large accumulators need 8 warps
        kept.append(c)
    if not kept:  # e.g. float32 with D = 256: a small tile without pipelining
        kept = [triton.Config({"BLOCK_M": 32, "BLOCK_N": 32}, num_warps=4, num_stages=1)]
    return kept


def _tuned(kernel, configs):
    if _INTERPRET:
        return None
    return triton.autotune(configs=configs, key=_TUNE_KEY,
                           prune_configs_by={"early_config_prune": _prune})(kernel)


_attn_fwd_tuned = _tuned(_attn_fwd, _FWD_CONFIGS)
_attn_bwd_dkdv_tuned = _tuned(_attn_bwd_dkdv, _BWD_CONFIGS)
_attn_bwd_dq_tuned = _tuned(_attn_bwd_dq, _BWD_CONFIGS)


def _launch(kernel, tuned, grid, *args, **meta):
    if tuned is None:
        kernel[grid](*args, **meta, **_INTERPRET_META)
    else:
        tuned[grid](*args, **meta)


# ----------------------------------------------------------------------- driver
def _meta(q: torch.Tensor, causal: bool) -> dict:
    head_dim = q.shape[-1]
    return {"HEAD_DIM": head_dim, "BLOCK_D": max(16, triton.next_power_of_2(head_dim)),
            "CAUSAL": causal,
            "DOT_PRECISION": _dot_precision(q.dtype)}


def _dot_precision(dtype: torch.dtype) -> str:
    if dtype == torch.float32:
        return "ieee"
    if dtype == torch.bfloat16 and _INTERPRET:
        return "upcast"  # see `_dot`
    return "tf32"  # ignored for 16-bit inputs


def _forward(q, k, v, causal, scale):
    b, h, t_q, _ = q.shape
    h_kv, t_k = k.shape[1], k.shape[2]
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    lse = torch.empty((b, h, t_q), dtype=torch.float32, device=q.device)
    meta = _meta(q, causal)
    grid = lambda args: (triton.cdiv(t_q, args["BLOCK_M"]), b * h)  # noqa: E731
    _launch(_attn_fwd, _attn_fwd_tuned, grid, q, k, v, out, lse, scale,
            *q.stride(), *k.stride(), *v.stride(), *out.stride(),
            h, h // h_kv, t_q, t_k, **meta)
    return out, lse


def _backward(q, k, v, out, lse, d_out, causal, scale):
    b, h, t_q, head_dim = q.shape
    h_kv, t_k = k.shape[1], k.shape[2]
    meta = _meta(q, causal)
    delta = torch.empty_like(lse)
    block = 16 if _INTERPRET else 64
    _attn_bwd_preprocess[(triton.cdiv(t_q, block), b * h)](
        out, d_out, delta, *out.stride(), *d_out.stride(), h, t_q,
        HEAD_DIM=head_dim, BLOCK_D=meta["BLOCK_D"], BLOCK_M=block)
    dq = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    dk = torch.empty(k.shape, dtype=k.dtype, device=k.device)
    dv = torch.empty(v.shape, dtype=v.dtype, device=v.device)
    grid_kv = lambda args: (triton.cdiv(t_k, args["BLOCK_N"]), b * h_kv)  # noqa: E731
    _launch(_attn_bwd_dkdv, _attn_bwd_dkdv_tuned, grid_kv, q, k, v, d_out, dk, dv, lse,
            delta, scale, *q.stride(), *k.stride(), *v.stride(), *d_out.stride(),
            *dk.stride(), *dv.stride(), h, h_kv, h // h_kv, t_q, t_k, **meta)
    grid_q = lambda args: (triton.cdiv(t_q, args["BLOCK_M"]), b * h)  # noqa: E731
    _launch(_attn_bwd_dq, _attn_bwd_dq_tuned, grid_q, q, k, v, d_out, dq, lse, delta, scale,
            *q.stride(), *k.stride(), *v.stride(), *d_out.stride(), *dq.stride(),
            h, h // h_kv, t_q, t_k, **meta)
    return dq, dk, dv


class _FlashAttention(torch.autograd.Function):
    """Forward saves (q, k, v, out, lse); backward runs the three deterministic kernels."""

    @staticmethod
    def forward(ctx, q, k, v, causal, scale):
        out, lse = _forward(q, k, v, causal, scale)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.causal, ctx.scale = causal, scale
        return out

    @staticmethod
    def backward(ctx, d_out):
        q, k, v, out, lse = ctx.saved_tensors
        dq, dk, dv = _backward(q, k, v, out, lse, d_out, ctx.causal, ctx.scale)
        return dq, dk, dv, None, None


def _check_inputs(q, k, v, causal, scale) -> None:
    for x, name in ((q, "q"), (k, "k"), (v, "v")):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"`{name}` must be a torch.Tensor; got {type(x).__name__}.")
        if x.ndim != 4:
            raise ValueError(f"`{name}` must have shape (B, H, T, D); got {tuple(x.shape)}.")
        if x.dtype not in _DTYPES:
            raise TypeError(f"`{name}` must be float16, bfloat16 or float32; got {x.dtype}.")
        if x.device != q.device:
            raise ValueError(f"`{name}` is on {x.device} but `q` is on {q.device}.")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"`q`, `k`, `v` must share one dtype; got {q.dtype}, {k.dtype}, "
                        f"{v.dtype}.")
    if k.shape != v.shape:
        raise ValueError(f"`k` and `v` must have the same shape; got {tuple(k.shape)} and "
                         f"{tuple(v.shape)}.")
    if q.shape[0] != k.shape[0] or q.shape[3] != k.shape[3]:
        raise ValueError(f"`q` {tuple(q.shape)} and `k` {tuple(k.shape)} must agree in batch "
                         f"size B and head dim D.")
    if k.shape[1] == 0 or q.shape[1] % k.shape[1]:
        raise ValueError(f"query heads ({q.shape[1]}, `q`) must be a multiple of key/value "
                         f"heads ({k.shape[1]}, `k`).")
    if not 1 <= q.shape[3] <= MAX_HEAD_DIM:
        raise ValueError(f"head dim D must be in [1, {MAX_HEAD_DIM}]; got {q.shape[3]}.")
    if q.shape[2] == 0 or k.shape[2] == 0:
        raise ValueError(f"`q` and `k` need at least one time step; got Tq={q.shape[2]}, "
                         f"Tk={k.shape[2]}.")
    if not isinstance(causal, bool):
        raise TypeError(f"`causal` must be a bool; got {type(causal).__name__}.")
    if scale is not None and (not isinstance(scale, numbers.Real) or isinstance(scale, bool)):
        raise TypeError(f"`scale` must be a Python float or None; got {type(scale).__name__}.")
    if q.device.type != "cuda" and not _INTERPRET:
        raise ValueError(f"`q` is on {q.device}: the kernels need CUDA tensors, or "
                         "TRITON_INTERPRET=1 set before triton is imported to run on CPU.")


def flash_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *,
                    causal: bool = False, scale: float | None = None) -> torch.Tensor:
    """Exact attention softmax(Q Kᵀ · scale) V without materializing the T×T matrix.

    Args:
      q: queries (B, Hq, Tq, D), float16 / bfloat16 / float32, any strides.
      k: keys (B, Hkv, Tk, D), same dtype and device; Hq must be a multiple of Hkv
        (grouped-query attention: query head h uses key/value head h // (Hq / Hkv)).
      v: values (B, Hkv, Tk, D).
      causal: query i attends to keys j <= i + Tk − Tq (bottom-right aligned, as in
        FlashAttention-2; SDPA's `is_causal` aligns top-left, equal when Tq = Tk).
      scale: score scale; default 1/√D.

    Returns:
      (B, Hq, Tq, D) in the input dtype, differentiable w.r.t. q, k, v (deterministic
      backward). Rows that see no key (causal with Tq > Tk) are 0.

    Raises:
      TypeError / ValueError: bad types, dtypes, shapes or devices (named argument).

    Work O(B·Hq·Tq·Tk·D) (about half when causal); extra memory O(B·Hq·Tq) (the
    log-sum-exp). Differences from SDPA: bottom-right causal alignment, no
    attention mask or dropout, grouped-query heads without `enable_gqa`.
    """
    _check_inputs(q, k, v, causal, scale)
    sm_scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    if q.numel() == 0:
        return q.new_zeros(q.shape)
    return _FlashAttention.apply(q, k, v, causal, sm_scale)
