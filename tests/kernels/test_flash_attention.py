"""Tests for the Triton kernel `kernels.flash_attention` (interpreter on CPU, tiny shapes)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import torch

import kernels
from torchbridge import linalg as tl
from torchbridge import testing

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def _qkv(b, h, h_kv, t_q, t_k, d, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shapes = ((b, h, t_q, d), (b, h_kv, t_k, d), (b, h_kv, t_k, d), (b, h, t_q, d))
    return [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in shapes]


def _run(q, k, v, d_out, **kw):
    """(O, dQ, dK, dV) of the kernel through torch autograd."""
    leaves = [x.detach().clone().requires_grad_(True) for x in (q, k, v)]
    out = kernels.flash_attention(*leaves, **kw)
    return (out.detach(), *torch.autograd.grad(out, leaves, d_out))


def _reference(q, k, v, d_out, causal=False, scale=None):
    """float64 torch autograd through the PyTorch twin (layout (B, T, N, H))."""
    leaves = [x.detach().double().requires_grad_(True) for x in (q, k, v)]
    out = tl.attention(*(x.transpose(1, 2) for x in leaves), causal=causal,
                       scale=scale).transpose(1, 2)
    return (out.detach(), *torch.autograd.grad(out, leaves, d_out.double()))


def _assert_all_close(got, want, rtol):
    for name, g, w in zip(("out", "dq", "dk", "dv"), got, want):
        err = testing.relative_error(g, w)
        assert err < rtol, f"{name}: relative error {err:.2e} >= {rtol:.1e}"


# (B, Hq, Hkv, Tq, Tk, D, causal): odd T, Tq ≠ Tk both ways (rows without keys),
# GQA, head dims padded to a power of two (24, 80) or not (16, 64, 128, 256).
_CASES = [
    (1, 2, 2, 13, 13, 24, False),
    (1, 1, 1, 13, 13, 24, True),
    (1, 2, 1, 9, 21, 16, True),
    (1, 1, 1, 21, 9, 32, True),
    (1, 1, 1, 9, 21, 64, False),
    (1, 1, 1, 5, 7, 80, True),
    (1, 1, 1, 6, 6, 128, False),
    (1, 1, 1, 3, 5, 256, True),
    (1, 1, 1, 35, 40, 16, True),  # several 16-blocks: masked and mask-free loops
    (1, 1, 1, 40, 33, 16, False),
]


@pytest.mark.parametrize("case", _CASES, ids=lambda c: "-".join(map(str, c)))
def test_float32_values_and_grads_vs_float64_autograd(case):
    *shape, causal = case
    q, k, v, d_out = _qkv(*shape)
    _assert_all_close(_run(q, k, v, d_out, causal=causal),
                      _reference(q, k, v, d_out, causal=causal),
                      testing.tolerance("float32").rtol)


def test_custom_scale():
    q, k, v, d_out = _qkv(1, 1, 1, 10, 12, 16)
    _assert_all_close(_run(q, k, v, d_out, causal=True, scale=0.3),
                      _reference(q, k, v, d_out, causal=True, scale=0.3),
                      testing.tolerance("float32").rtol)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("case", [(1, 2, 1, 17, 17, 32, True), (1, 1, 1, 11, 19, 64, False)],
                         ids=lambda c: "-".join(map(str, c)))
def test_16bit_values_and_grads(dtype, case):
    *shape, causal = case
    q, k, v, d_out = _qkv(*shape, dtype=_DTYPES[dtype])
    got = _run(q, k, v, d_out, causal=causal)
    assert all(g.dtype == _DTYPES[dtype] for g in got)
    # Reference on the rounded inputs: the error is the kernel's own rounding
    # (P and dS are rounded to 16 bits before their products, as on the GPU).
    _assert_all_close(got, _reference(q, k, v, d_out, causal=causal),
                      testing.tolerance(dtype).rtol)


def test_rows_without_keys_are_zero():
    q, k, v, d_out = _qkv(1, 1, 1, 21, 9, 16)
    out, dq, dk, dv = _run(q, k, v, d_out, causal=True)
    assert (out[:, :, :12] == 0).all() and (dq[:, :, :12] == 0).all()
    assert (out[:, :, 12:].abs() > 0).all()
    assert all(torch.isfinite(g).all() for g in (dq, dk, dv))


def test_bit_identical_across_runs():
    q, k, v, d_out = _qkv(1, 4, 2, 19, 19, 24)
    first = _run(q, k, v, d_out, causal=True)
    second = _run(q, k, v, d_out, causal=True)
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_arbitrary_strides_and_broadcast_cotangent():
    q, k, v, _ = _qkv(1, 2, 2, 11, 11, 24)
    # (B, T, H, D) storage seen as (B, H, T, D) views, and dO with zero strides.
    q_t, k_t, v_t = (x.transpose(1, 2).contiguous().transpose(1, 2) for x in (q, k, v))
    assert not q_t.is_contiguous()
    d_out = torch.full((1, 1, 1, 1), 0.5, dtype=torch.float32).expand(q.shape)
    got = _run(q_t, k_t, v_t, d_out, causal=True)
    want = _run(q, k, v, d_out.contiguous(), causal=True)
    assert all(torch.equal(a, b) for a, b in zip(got, want))


def test_causal_output_ignores_future_keys():
    q, k, v, _ = _qkv(1, 1, 1, 14, 14, 16)
    i = 6
    k2, v2 = k.clone(), v.clone()
    k2[:, :, i + 1:] = 9.0 * torch.randn_like(k2[:, :, i + 1:])
    v2[:, :, i + 1:] -= 5.0
    a = kernels.flash_attention(q, k, v, causal=True)
    b = kernels.flash_attention(q, k2, v2, causal=True)
    assert torch.equal(a[:, :, :i + 1], b[:, :, :i + 1])
    assert (a[:, :, i + 1:] - b[:, :, i + 1:]).abs().max() > 1e-2


def test_attention_weights_rows_sum_to_one():
    # v = identity over the Tk key positions makes the output the weight matrix.
    t_q, t_k = 11, 16
    q, k, _, _ = _qkv(1, 1, 1, t_q, t_k, 16)
    eye = torch.eye(t_k).reshape(1, 1, t_k, t_k)
    for causal in (False, True):
        w = kernels.flash_attention(q, k, eye, causal=causal)[0, 0]
        torch.testing.assert_close(w.sum(-1), torch.ones(t_q), rtol=1e-6, atol=1e-6)
        assert (w >= 0).all()
        if causal:
            future = torch.arange(t_k)[None, :] > torch.arange(t_q)[:, None] + (t_k - t_q)
            assert (w[future] == 0).all() and (w[~future] > 0).all()


def test_matches_jaxla_flash_attention_through_dlpack():
    import jax

    import jaxla
    from torchbridge import to_jax, to_torch

    q, k, v, d_out = _qkv(1, 4, 2, 13, 17, 24, seed=3)
    got = _run(q, k, v, d_out, causal=True)

    def jax_side(q, k, v, d_out):  # (B, T, N, H) on the JAX side
        fn = lambda q, k, v: jaxla.flash_attention(q, k, v, causal=True,  # noqa: E731
                                                   block_q=8, block_k=8)
        out, vjp = jax.vjp(fn, q, k, v)
        return (out, *vjp(d_out))

    args = [to_jax(x.transpose(1, 2).contiguous()) for x in (q, k, v, d_out)]
    want = [to_torch(x).transpose(1, 2) for x in jax.jit(jax_side)(*args)]
    _assert_all_close(got, want, 2 * testing.tolerance("float32").rtol)


# ---------------------------------------------------------------------- errors
def test_bad_inputs_raise():
    q, k, v, _ = _qkv(1, 2, 2, 8, 8, 16)
    fa = kernels.flash_attention
    with pytest.raises(TypeError, match="`q` must be a torch.Tensor"):
        fa(q.numpy(), k, v)
    with pytest.raises(ValueError, match=r"`k` must have shape \(B, H, T, D\)"):
        fa(q, k[0], v)
    with pytest.raises(TypeError, match="`q` must be float16, bfloat16 or float32"):
        fa(q.double(), k.double(), v.double())
    with pytest.raises(TypeError, match="`v` must be float16, bfloat16 or float32"):
        fa(q, k, v.to(torch.int32))
    with pytest.raises(TypeError, match="must share one dtype"):
        fa(q, k.half(), v)
    with pytest.raises(ValueError, match="`k` and `v` must have the same shape"):
        fa(q, k, v[:, :, :5])
    with pytest.raises(ValueError, match="multiple of key/value heads"):
        fa(q[:, :1].expand(1, 3, 8, 16), k, v)
    with pytest.raises(ValueError, match="batch size B and head dim D"):
        fa(q[..., :8], k, v)
    big = torch.zeros(1, 1, 4, 272)
    with pytest.raises(ValueError, match=r"head dim D must be in \[1, 256\]"):
        fa(big, big, big)
    with pytest.raises(ValueError, match="at least one time step"):
        fa(q[:, :, :0], k, v)
    with pytest.raises(TypeError, match="`causal` must be a bool"):
        fa(q, k, v, causal="yes")
    with pytest.raises(TypeError, match="`scale` must be a Python float"):
        fa(q, k, v, scale="0.5")


def test_import_is_lazy_and_probes_no_gpu():
    code = ("import sys, kernels; "
            "assert 'triton' not in sys.modules and 'torch' not in sys.modules; "
            "assert 'flash_attention' in dir(kernels)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_autotune_configs_pruned_to_problem():
    module = importlib.import_module("kernels.flash_attention")
    q = torch.zeros(1, 1, 40, 64, dtype=torch.float16)
    small = module._prune(module._FWD_CONFIGS, {"Q": q, "N_CTX_Q": 40, "N_CTX_K": 40},
                          BLOCK_D=64)
    assert small and all(c.kwargs["BLOCK_M"] <= 64 and c.kwargs["BLOCK_N"] <= 64 for c in small)
    large = module._prune(module._FWD_CONFIGS, {"Q": q, "N_CTX_Q": 8192, "N_CTX_K": 8192},
                          BLOCK_D=128)
    assert any(c.kwargs["BLOCK_M"] == 128 and c.kwargs["BLOCK_N"] == 128 for c in large)
    huge_d = module._prune(module._FWD_CONFIGS, {"Q": q.float(), "N_CTX_Q": 8192,
                                                 "N_CTX_K": 8192}, BLOCK_D=256)
    assert huge_d and len(huge_d) < len(large)
    assert all(c.num_warps == 8 for c in huge_d if c.kwargs["BLOCK_M"] == 128)
    smem = [(c.kwargs["BLOCK_M"] + 2 * c.kwargs["BLOCK_N"] * c.num_stages) * 256 * 4
            for c in huge_d]
    assert max(smem) <= 160 * 1024
    tiny = module._prune(module._BWD_CONFIGS, {"Q": q, "N_CTX_Q": 3, "N_CTX_K": 3}, BLOCK_D=16)
    assert len(tiny) >= 1


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("causal", [False, True])
def test_gpu_matches_sdpa(dtype, causal):
    import torch.nn.functional as F

    q, k, v, d_out = (x.cuda() for x in _qkv(2, 8, 2, 1000, 1000, 128, dtype=_DTYPES[dtype]))
    got = _run(q, k, v, d_out, causal=causal)
    leaves = [x.detach().float().requires_grad_(True) for x in (q, k, v)]
    out = F.scaled_dot_product_attention(*leaves, is_causal=causal, enable_gqa=True)
    want = (out.detach(), *torch.autograd.grad(out, leaves, d_out.float()))
    _assert_all_close(got, want, testing.tolerance(dtype).rtol)
    assert all(torch.equal(a, b) for a, b in zip(got, _run(q, k, v, d_out, causal=causal)))
