"""Tests for jaxla.attention, jaxla.flash_attention and jaxla.multi_head_attention."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxla
from torchbridge import testing
from torchbridge.crosscheck.cases_attention import (
    reference_attention,
    reference_attention_grads,
)


def _qkv(rng, b, t_q, t_k, n, n_kv, h, dtype=np.float32):
    return (rng.standard_normal((b, t_q, n, h)).astype(dtype),
            rng.standard_normal((b, t_k, n_kv, h)).astype(dtype),
            rng.standard_normal((b, t_k, n_kv, h)).astype(dtype))


def _flash(block_q, block_k, **kw):
    return jax.jit(lambda q, k, v: jaxla.flash_attention(q, k, v, block_q=block_q,
                                                         block_k=block_k, **kw))


@jax.jit
def _reference_causal(q, k, v):
    return jaxla.attention(q, k, v, causal=True)


@jax.jit
def _flash_causal(q, k, v):
    return jaxla.flash_attention(q, k, v, causal=True, block_q=4, block_k=4)


# (B, Tq, Tk, N, Nkv, H, causal, block_q, block_k): odd T, Tq ≠ Tk both ways, GQA,
# blocks that do not divide T, blocks larger than T.
_SHAPES = [
    (2, 13, 13, 2, 1, 24, False, 4, 8),
    (1, 7, 19, 4, 2, 16, True, 4, 4),
    (1, 19, 7, 2, 2, 8, True, 8, 128),
]


def _value_and_grads(fn):
    """jit(q, k, v, dO -> (O, dQ, dK, dV)), one compilation."""
    def run(q, k, v, d_out):
        out, vjp = jax.vjp(fn, q, k, v)
        return (out, *vjp(d_out))
    return jax.jit(run)


@pytest.mark.parametrize("shape", _SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_flash_matches_float64_reference_values_and_grads(x64, rng, shape):
    b, t_q, t_k, n, n_kv, h, causal, bq, bk = shape
    q, k, v = _qkv(rng, b, t_q, t_k, n, n_kv, h, np.float64)
    d_out = rng.standard_normal((b, t_q, n, h))
    want = reference_attention_grads(q, k, v, d_out, causal=causal)
    got = _value_and_grads(lambda q, k, v: jaxla.flash_attention(
        q, k, v, causal=causal, block_q=bq, block_k=bk))(q, k, v, d_out)
    tol = testing.tolerance("float64")
    for g, w in zip(got, want):
        testing.assert_close(g, w, rtol=tol.rtol, atol=tol.atol)


def test_reference_attention_grads_float64(x64, rng):
    q, k, v = _qkv(rng, 1, 9, 12, 4, 2, 8, np.float64)
    d_out = rng.standard_normal(q.shape)
    want = reference_attention_grads(q, k, v, d_out, causal=True)
    got = _value_and_grads(lambda q, k, v: jaxla.attention(q, k, v, causal=True))(q, k, v, d_out)
    tol = testing.tolerance("float64")
    for g, w in zip(got, want):
        testing.assert_close(g, w, rtol=tol.rtol, atol=tol.atol)


@pytest.mark.parametrize("jit", [False, True])
def test_flash_float32_jit_and_eager(rng, jit):
    q, k, v = _qkv(rng, 2, 11, 11, 2, 2, 16)
    fn = _flash(4, 4, causal=True)
    fn = jax.jit(fn) if jit else fn
    want = reference_attention(q, k, v, causal=True)
    assert fn(q, k, v).dtype == jnp.float32
    assert testing.relative_error(fn(q, k, v), want) < testing.tolerance("float32").rtol


def test_attention_weights_rows_sum_to_one_and_causal_zeros(rng):
    # With v = identity over key positions, the output *is* the weight matrix.
    t_q, t_k = 6, 9
    q, k, _ = _qkv(rng, 1, t_q, t_k, 2, 2, 8)
    eye = np.broadcast_to(np.eye(t_k, dtype=np.float32)[None, :, None, :], (1, t_k, 2, t_k))
    for fn in (jaxla.attention, jaxla.flash_attention):
        for causal in (False, True):
            w = np.asarray(jax.jit(lambda q, k, v, f=fn, c=causal: f(q, k, v, causal=c))(
                q, k, eye))
            np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-6)
            assert (w >= 0).all()
            if causal:  # query i sees keys j <= i + (Tk - Tq)
                future = np.arange(t_k)[None, :] > np.arange(t_q)[:, None] + (t_k - t_q)
                assert (w[0, :, 0][future] == 0).all()
                assert (w[0, :, 0][~future] > 0).all()


def test_causal_output_ignores_future_keys(rng):
    q, k, v = _qkv(rng, 1, 12, 12, 1, 1, 8)
    i = 5
    k2, v2 = k.copy(), v.copy()
    k2[:, i + 1:] += 10.0 * rng.standard_normal(k2[:, i + 1:].shape).astype(np.float32)
    v2[:, i + 1:] -= 7.0
    for fn in (_reference_causal, _flash_causal):
        a, b = np.asarray(fn(q, k, v)), np.asarray(fn(q, k2, v2))
        np.testing.assert_array_equal(a[:, :i + 1], b[:, :i + 1])
        assert np.abs(a[:, i + 1:] - b[:, i + 1:]).max() > 1e-2  # later rows do change


def test_rows_without_keys_are_zero_with_finite_grads(rng):
    # Causal with Tq > Tk: the first Tq - Tk queries see no key (bottom-right alignment).
    q, k, v = _qkv(rng, 1, 9, 4, 1, 1, 8)
    for fn in (_reference_causal, _flash_causal):
        out = fn(q, k, v)
        assert (np.asarray(out[:, :5]) == 0).all()
        assert np.abs(np.asarray(out[:, 5:])).min() > 0
        grads = jax.jit(jax.grad(lambda q, k, v, f=fn: jnp.sum(f(q, k, v) ** 2),
                                 argnums=(0, 1, 2)))(q, k, v)
        assert all(np.isfinite(np.asarray(g)).all() for g in grads)
        assert (np.asarray(grads[0][:, :5]) == 0).all()


def test_mask_matches_reference_and_equals_causal(rng):
    q, k, v = _qkv(rng, 2, 6, 8, 2, 2, 4)
    mask = rng.random((2, 2, 6, 8)) < 0.5
    got = jaxla.attention(q, k, v, mask=jnp.asarray(mask))
    want = reference_attention(q, k, v, mask=mask)
    assert testing.relative_error(got, want) < testing.tolerance("float32").rtol
    tri = np.arange(8)[None, :] <= np.arange(6)[:, None] + 2
    np.testing.assert_allclose(jaxla.attention(q, k, v, mask=jnp.asarray(tri)),
                               jaxla.attention(q, k, v, causal=True), rtol=1e-6)


def test_gqa_equals_repeated_heads(rng):
    q, k, v = _qkv(rng, 1, 7, 7, 6, 2, 8)
    kr, vr = np.repeat(k, 3, axis=2), np.repeat(v, 3, axis=2)
    np.testing.assert_allclose(_flash(4, 4, causal=True)(q, k, v),
                               jaxla.attention(q, kr, vr, causal=True), rtol=2e-6, atol=2e-6)


def test_vmap_and_leading_batch_dims(rng):
    q, k, v = (x.reshape(3, 1, *x.shape[1:]) for x in _qkv(rng, 3, 6, 6, 1, 1, 8))
    fn = _flash(4, 4, causal=True)
    batched = fn(q, k, v)  # leading dims (3, 1)
    mapped = jax.jit(jax.vmap(fn))(q, k, v)
    assert batched.shape == (3, 1, 6, 1, 8)
    np.testing.assert_allclose(batched, mapped, rtol=1e-6, atol=1e-6)
    unbatched = fn(q[0, 0], k[0, 0], v[0, 0])  # (T, N, H)
    np.testing.assert_allclose(unbatched, batched[0, 0], rtol=1e-6, atol=1e-6)


def test_traced_scale_and_its_gradient(rng):
    q, k, v = _qkv(rng, 1, 9, 9, 1, 1, 8)

    def loss(fn, s):
        return jnp.sum(fn(q, k, v, causal=True, scale=s) ** 2)

    flash = lambda *a, **kw: jaxla.flash_attention(*a, block_q=4, block_k=4, **kw)  # noqa: E731
    g_flash = jax.jit(jax.grad(lambda s: loss(flash, s)))(0.4)
    g_ref = jax.jit(jax.grad(lambda s: loss(jaxla.attention, s)))(0.4)
    assert abs(float(g_flash) - float(g_ref)) < 1e-5 * abs(float(g_ref))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_inputs(rng, dtype):
    q, k, v = (jnp.asarray(x, dtype) for x in _qkv(rng, 1, 10, 10, 2, 2, 16))
    out = _flash(4, 8, causal=True)(q, k, v)
    assert out.dtype == jnp.dtype(dtype)
    want = reference_attention(*(np.asarray(x, np.float64) for x in (q, k, v)), causal=True)
    assert testing.relative_error(out, want) < testing.tolerance(dtype).rtol
    g = jax.jit(jax.grad(lambda q: jnp.sum(_flash(4, 8)(q, k, v).astype(jnp.float32))))(q)
    assert g.dtype == jnp.dtype(dtype)


def test_memory_is_linear_in_t():
    # XLA's compiled temporary memory at T = 16384, D = 64, float32 (compile only).
    spec = jax.ShapeDtypeStruct((1, 16384, 1, 64), jnp.float32)

    def temp(fn):
        compiled = jax.jit(fn).lower(spec, spec, spec).compile()
        return compiled.memory_analysis().temp_size_in_bytes

    fwd = [temp(f) for f in (jaxla.flash_attention, jaxla.attention)]
    bwd = [temp(jax.grad(lambda q, k, v, f=f: jnp.sum(f(q, k, v)), argnums=(0, 1, 2)))
           for f in (jaxla.flash_attention, jaxla.attention)]
    assert fwd[1] >= 16384 ** 2 * 4  # the reference holds the T×T scores
    assert fwd[0] <= 0.1 * fwd[1], fwd
    assert bwd[0] <= 0.1 * bwd[1], bwd


# ------------------------------------------------------------------ multi-head
def _mha_params(rng, d_model=12, n=4, n_kv=2, h=3, bias=True):
    shapes = {"wq": (d_model, n * h), "wk": (d_model, n_kv * h), "wv": (d_model, n_kv * h),
              "wo": (n * h, d_model)}
    params = {k: jnp.asarray(rng.standard_normal(s) / np.sqrt(s[0]), jnp.float32)
              for k, s in shapes.items()}
    if bias:
        params.update({"b" + k[1:]: jnp.asarray(0.1 * rng.standard_normal(s[1]), jnp.float32)
                       for k, s in shapes.items()})
    return params


def test_multi_head_attention_matches_manual(rng):
    params = _mha_params(rng)
    x = jnp.asarray(rng.standard_normal((2, 7, 12)), jnp.float32)
    q = (x @ params["wq"] + params["bq"]).reshape(2, 7, 4, 3)
    k = (x @ params["wk"] + params["bk"]).reshape(2, 7, 2, 3)
    v = (x @ params["wv"] + params["bv"]).reshape(2, 7, 2, 3)
    want = reference_attention(q, k, v, causal=True).reshape(2, 7, 12) @ params["wo"]
    want = want + params["bo"]
    got = jax.jit(jaxla.multi_head_attention, static_argnames=("num_heads", "causal"))(
        params, x, num_heads=4, causal=True)
    assert got.shape == (2, 7, 12)
    assert testing.relative_error(got, want) < 2 * testing.tolerance("float32").rtol


def test_multi_head_attention_vmap_and_grad(rng):
    params = _mha_params(rng, bias=False)
    x = jnp.asarray(rng.standard_normal((3, 5, 12)), jnp.float32)
    fn = lambda p, x: jaxla.multi_head_attention(p, x, num_heads=4)  # noqa: E731
    np.testing.assert_allclose(jax.jit(jax.vmap(fn, (None, 0)))(params, x),
                               jax.jit(fn)(params, x), rtol=1e-5, atol=1e-6)
    # Directional derivative check against a central difference in float64.
    with jaxla.enable_x64():
        p64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
        x64 = jnp.asarray(x, jnp.float64)
        value_and_grad = jax.jit(jax.value_and_grad(lambda p: jnp.sum(fn(p, x64) ** 2)))
        _, g = value_and_grad(p64)
        assert set(g) == {"wq", "wk", "wv", "wo"}
        d = jax.tree.map(lambda a: jnp.asarray(rng.standard_normal(a.shape)), p64)
        eps = 1e-6
        plus, _ = value_and_grad(jax.tree.map(lambda a, b: a + eps * b, p64, d))
        minus, _ = value_and_grad(jax.tree.map(lambda a, b: a - eps * b, p64, d))
        fd = (plus - minus) / (2 * eps)
        an = sum(jnp.vdot(g[k], d[k]) for k in g)
        assert abs(float(fd - an)) < 1e-6 * abs(float(an))


# ---------------------------------------------------------------------- errors
def test_bad_inputs_raise(rng):
    q, k, v = _qkv(rng, 1, 4, 4, 2, 2, 8)
    with pytest.raises(ValueError, match="`q` must have at least 3"):
        jaxla.flash_attention(q[0, 0], k, v)
    with pytest.raises(ValueError, match="multiple of the number of key/value heads"):
        jaxla.attention(q[:, :, :1].repeat(3, 2), k, v)
    with pytest.raises(ValueError, match="same head dim"):
        jaxla.flash_attention(q[..., :4], k, v)
    with pytest.raises(ValueError, match="`k` and `v` must agree"):
        jaxla.flash_attention(q, k, v[:, :3])
    with pytest.raises(ValueError, match="`block_q` must be >= 1"):
        jaxla.flash_attention(q, k, v, block_q=0)
    with pytest.raises(TypeError, match="`block_k` must be a static Python int"):
        jaxla.flash_attention(q, k, v, block_k=8.0)
    with pytest.raises(TypeError, match="`causal` must be a static Python bool"):
        jaxla.flash_attention(q, k, v, causal=jnp.array(True))
    with pytest.raises(TypeError, match="`causal` must be a static Python bool"):
        jaxla.attention(q, k, v, causal="yes")
    with pytest.raises(TypeError, match="`q` must be real"):
        jaxla.attention(q.astype(np.complex64), k, v)
    with pytest.raises(TypeError, match="`mask` must be boolean"):
        jaxla.attention(q, k, v, mask=jnp.ones((4, 4)))
    with pytest.raises(ValueError, match="`mask` of shape"):
        jaxla.attention(q, k, v, mask=jnp.ones((3, 4), bool))
    params = _mha_params(rng)
    x = jnp.ones((2, 5, 12))
    with pytest.raises(ValueError, match="missing \\['wo'\\]"):
        jaxla.multi_head_attention({k: params[k] for k in ("wq", "wk", "wv")}, x, num_heads=4)
    with pytest.raises(ValueError, match="not a multiple of `num_heads`"):
        jaxla.multi_head_attention(params, x, num_heads=5)
    with pytest.raises(ValueError, match="rows must match the model dim of `x` \\(10\\)"):
        jaxla.multi_head_attention(params, jnp.ones((2, 5, 10)), num_heads=4)
    with pytest.raises(TypeError, match="`params` must be a mapping"):
        jaxla.multi_head_attention([params["wq"]], x, num_heads=4)
