"""Tests for the PyTorch twins torchbridge.linalg.attention / multi_head_attention."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from torchbridge import linalg as tl
from torchbridge import testing
from torchbridge.crosscheck.cases_attention import reference_attention


def _qkv(b, t_q, t_k, n, n_kv, h, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=dtype)
            for s in ((b, t_q, n, h), (b, t_k, n_kv, h), (b, t_k, n_kv, h))]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", [(2, 7, 7, 2, 2, 8), (1, 5, 11, 4, 2, 6), (1, 11, 5, 2, 1, 6)])
def test_matches_float64_reference(shape, causal):
    q, k, v = _qkv(*shape)
    got = tl.attention(q, k, v, causal=causal)
    want = reference_attention(q.numpy(), k.numpy(), v.numpy(), causal=causal)
    testing.assert_close(got, want, rtol=testing.tolerance("float64").rtol,
                         atol=testing.tolerance("float64").atol)


@pytest.mark.parametrize("causal", [False, True])
def test_matches_sdpa_when_tq_equals_tk(causal):
    q, k, v = _qkv(2, 9, 9, 4, 2, 8, dtype=torch.float32)
    got = tl.attention(q, k, v, causal=causal)
    want = F.scaled_dot_product_attention(*(x.transpose(1, 2) for x in (q, k, v)),
                                          is_causal=causal, enable_gqa=True).transpose(1, 2)
    assert testing.relative_error(got, want) < testing.tolerance("float32").rtol


def test_mask_and_rows_without_keys():
    q, k, v = _qkv(1, 6, 8, 2, 2, 4)
    mask = torch.rand(1, 2, 6, 8, generator=torch.Generator().manual_seed(1)) < 0.5
    mask[..., 2, :] = False
    got = tl.attention(q, k, v, mask=mask)
    want = reference_attention(q.numpy(), k.numpy(), v.numpy(), mask=mask.numpy())
    testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert (got[:, 2] == 0).all()
    # Causal with Tq > Tk: the first Tq - Tk rows see nothing; gradients stay finite.
    q, k, v = (x.requires_grad_(True) for x in _qkv(1, 9, 4, 1, 1, 8))
    out = tl.attention(q, k, v, causal=True)
    assert (out[:, :5] == 0).all()
    out.square().sum().backward()
    assert all(torch.isfinite(x.grad).all() for x in (q, k, v))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", [(1, 13, 13, 2, 1, 8), (1, 5, 11, 2, 2, 6), (2, 11, 5, 1, 1, 6)])
def test_flash_twin_values_and_grads_match_attention(shape, causal):
    q, k, v = (x.requires_grad_(True) for x in _qkv(*shape))
    d_out = torch.randn(q.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    got = tl.flash_attention(q, k, v, causal=causal, block_q=4, block_k=3)
    want = tl.attention(q, k, v, causal=causal)
    tol = testing.tolerance("float64")
    testing.assert_close(got, want, rtol=tol.rtol, atol=tol.atol)
    for g, w in zip(torch.autograd.grad(got, (q, k, v), d_out),
                    torch.autograd.grad(want, (q, k, v), d_out)):
        testing.assert_close(g, w, rtol=tol.rtol, atol=tol.atol)


def test_weights_rows_sum_to_one():
    q, k, _ = _qkv(1, 6, 9, 1, 1, 8)
    eye = torch.eye(9, dtype=torch.float64).reshape(1, 9, 1, 9)
    w = tl.attention(q, k, eye, causal=True)[0, :, 0]
    torch.testing.assert_close(w.sum(-1), torch.ones(6, dtype=torch.float64))
    future = torch.arange(9)[None, :] > torch.arange(6)[:, None] + 3
    assert (w[future] == 0).all()


def test_low_precision_inputs_keep_their_dtype():
    q, k, v = _qkv(1, 8, 8, 2, 2, 16, dtype=torch.bfloat16)
    out = tl.attention(q, k, v, causal=True)
    assert out.dtype == torch.bfloat16
    want = reference_attention(*(x.float().numpy() for x in (q, k, v)), causal=True)
    assert testing.relative_error(out, want) < testing.tolerance("bfloat16").rtol


def test_multi_head_attention_matches_torch_nn():
    d_model, heads, t = 16, 4, 7
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(d_model, heads, batch_first=True, dtype=torch.float64)
    x = torch.randn(2, t, d_model, dtype=torch.float64)
    w_q, w_k, w_v = mha.in_proj_weight.detach().chunk(3)
    b_q, b_k, b_v = mha.in_proj_bias.detach().chunk(3)
    torch.nn.init.normal_(mha.out_proj.bias)
    params = {"wq": w_q.T, "wk": w_k.T, "wv": w_v.T, "wo": mha.out_proj.weight.detach().T,
              "bq": b_q + 0.1, "bk": b_k - 0.2, "bv": b_v + 0.3, "bo": mha.out_proj.bias.detach()}
    with torch.no_grad():
        mha.in_proj_bias.copy_(torch.cat([params["bq"], params["bk"], params["bv"]]))
    causal_mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
    for causal in (False, True):
        got = tl.multi_head_attention(params, x, num_heads=heads, causal=causal)
        want, _ = mha(x, x, x, need_weights=False,
                      attn_mask=causal_mask if causal else None)
        testing.assert_close(got, want.detach(), rtol=1e-12, atol=1e-12)


def test_bad_inputs_raise():
    q, k, v = _qkv(1, 4, 4, 2, 2, 8)
    with pytest.raises(TypeError, match="`q` must be a torch.Tensor"):
        tl.attention(np.zeros((1, 4, 2, 8)), k, v)
    with pytest.raises(ValueError, match=r"`k` must have shape \(..., T, N, H\)"):
        tl.attention(q, k[0, 0], v)
    with pytest.raises(ValueError, match="multiple of the number of key/value heads"):
        tl.attention(q[:, :, :1].repeat(1, 1, 3, 1), k, v)
    with pytest.raises(ValueError, match="incompatible shapes"):
        tl.attention(q[..., :4], k, v)
    with pytest.raises(TypeError, match="`mask` must be a boolean tensor"):
        tl.attention(q, k, v, mask=torch.ones(4, 4))
    with pytest.raises(TypeError, match="real floating dtype"):
        tl.attention(q.to(torch.complex128), k, v)
    with pytest.raises(ValueError, match="`block_k` must be a positive int"):
        tl.flash_attention(q, k, v, block_k=0)
    with pytest.raises(ValueError, match="multiple of the number of key/value heads"):
        tl.flash_attention(q[:, :, :1].repeat(1, 1, 3, 1), k, v)
    params = {"wq": torch.ones(8, 8), "wk": torch.ones(8, 8), "wv": torch.ones(8, 8)}
    with pytest.raises(ValueError, match=r"missing \['wo'\]"):
        tl.multi_head_attention(params, torch.ones(1, 3, 8), num_heads=2)
    params["wo"] = torch.ones(8, 8)
    with pytest.raises(ValueError, match="not a multiple of `num_heads`"):
        tl.multi_head_attention(params, torch.ones(1, 3, 8), num_heads=3)
    with pytest.raises(ValueError, match="`num_heads` must be a positive int"):
        tl.multi_head_attention(params, torch.ones(1, 3, 8), num_heads=0)
