"""jax_to_torch / torch_to_jax: values, pytrees, compilation, and gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from jax.test_util import check_grads

from jaxla import enable_x64
from torchbridge import jax_to_torch, to_jax, torch_to_jax


def _f3(x, y, w):
    """3 inputs, 2 outputs."""
    return jnp.sum(jnp.tanh(x) * y) + jnp.sum(w ** 3), (w @ x) * jnp.exp(-y[0])


def _inputs(seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(4, 3, generator=g, dtype=dtype),
            torch.randn(4, 3, generator=g, dtype=dtype),
            torch.randn(5, 4, generator=g, dtype=dtype))


def test_three_inputs_two_outputs_gradients_match_jax_grad():
    x, y, w = (t.requires_grad_(True) for t in _inputs())
    s, m = jax_to_torch(_f3)(x, y, w)
    (s + (m * m).sum()).backward()

    def loss(x, y, w):
        s, m = _f3(x, y, w)
        return s + jnp.sum(m * m)

    gx, gy, gw = jax.grad(loss, argnums=(0, 1, 2))(*(to_jax(t.detach()) for t in (x, y, w)))
    for torch_grad, jax_grad in ((x.grad, gx), (y.grad, gy), (w.grad, gw)):
        np.testing.assert_allclose(torch_grad.numpy(), np.asarray(jax_grad), rtol=1e-5,
                                   atol=1e-6)


def test_values_match_and_no_grad_path():
    x, y, w = _inputs()
    s, m = jax_to_torch(_f3)(x, y, w)
    assert not s.requires_grad
    s_ref = (torch.tanh(x) * y).sum() + (w ** 3).sum()
    torch.testing.assert_close(s, s_ref)
    torch.testing.assert_close(m, (w @ x) * torch.exp(-y[0]))


def test_gradcheck_float64_finite_differences(x64):
    x, y, w = (t.requires_grad_(True) for t in _inputs(dtype=torch.float64))
    f = jax_to_torch(_f3)
    assert torch.autograd.gradcheck(lambda a, b, c: f(a, b, c), (x, y, w), eps=1e-6,
                                    atol=1e-6)


def test_only_inputs_requiring_grad_get_gradients():
    x, y, w = _inputs()
    x.requires_grad_(True)
    s, _ = jax_to_torch(_f3)(x, y, w)
    s.backward()
    assert x.grad is not None and y.grad is None and w.grad is None


def test_pytrees_kwargs_static_args_and_integer_leaves():
    def f(params, batch, *, scale, name):
        assert name == "tag"  # static leaves arrive as plain Python values
        logits = batch["x"] @ params["w"] + params["b"]
        return {"loss": scale * jnp.mean(logits ** 2), "argmax": jnp.argmax(logits, -1),
                "count": batch["n"] + 1}

    g = torch.Generator().manual_seed(1)
    params = {"w": torch.randn(3, 2, generator=g, requires_grad=True),
              "b": torch.zeros(2, requires_grad=True)}
    batch = {"x": torch.randn(6, 3, generator=g), "n": torch.tensor(4, dtype=torch.int32)}
    out = jax_to_torch(f)(params, batch, scale=2.0, name="tag")
    assert set(out) == {"loss", "argmax", "count"}
    assert out["argmax"].dtype == torch.int32 and int(out["count"]) == 5
    assert not out["argmax"].requires_grad
    out["loss"].backward()
    logits = batch["x"] @ params["w"].detach()
    expected_w = 2.0 * batch["x"].T @ (2 * logits / logits.numel())
    torch.testing.assert_close(params["w"].grad, expected_w, rtol=1e-5, atol=1e-6)


def test_compiled_once_per_signature():
    traces = []

    def f(x):
        traces.append(x.shape)
        return jnp.sin(x)

    g = jax_to_torch(f)
    for _ in range(3):
        g(torch.ones(3))
    g(torch.ones(4))
    g(torch.ones(4))
    assert traces == [(3,), (4,)]


def test_unhashable_static_argument_raises():
    with pytest.raises(TypeError, match="must be hashable"):
        jax_to_torch(lambda x, a: x * a)(torch.ones(2), np.ones(2))


def test_backward_outside_the_x64_scope_of_the_forward():
    f = jax_to_torch(lambda x: jnp.sum(x ** 2))
    x = torch.arange(3.0, dtype=torch.float64, requires_grad=True)
    with enable_x64():
        y = f(x)
    y.backward()  # x64 is off here; the backward restores the forward's mode
    torch.testing.assert_close(x.grad, 2 * x.detach())


# ----------------------------------------------------------------- torch -> JAX
def _torch_fn(a, b):
    return torch.sin(a) @ b, (a * a).sum()


def _shapes(a, b):
    return (jax.ShapeDtypeStruct((a.shape[0], b.shape[1]), a.dtype),
            jax.ShapeDtypeStruct((), a.dtype))


def _jax_ref(a, b):
    return jnp.sin(a) @ b, jnp.sum(a * a)


@pytest.mark.parametrize("jit", [False, True])
def test_torch_to_jax_values(jit):
    f = torch_to_jax(_torch_fn, out_shapes=_shapes)
    if jit:
        f = jax.jit(f)
    a, b = jnp.arange(6.0).reshape(2, 3) / 7, jnp.ones((3, 4))
    for got, want in zip(f(a, b), _jax_ref(a, b)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)


def test_torch_to_jax_grad_matches_torch_autograd_and_jax():
    f = torch_to_jax(_torch_fn, out_shapes=_shapes)

    def loss(fn):
        return lambda a, b: jnp.sum(fn(a, b)[0] ** 2) + fn(a, b)[1]

    a = jax.random.normal(jax.random.key(0), (3, 5))
    b = jax.random.normal(jax.random.key(1), (5, 2))
    got = jax.jit(jax.grad(loss(f), argnums=(0, 1)))(a, b)
    want = jax.grad(loss(_jax_ref), argnums=(0, 1))(a, b)
    ta = torch.tensor(np.asarray(a), requires_grad=True)
    tb = torch.tensor(np.asarray(b), requires_grad=True)
    m, s = _torch_fn(ta, tb)
    ((m ** 2).sum() + s).backward()
    for g, w, t in zip(got, want, (ta, tb)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(g), t.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_torch_to_jax_finite_differences(x64):
    f = torch_to_jax(_torch_fn, out_shapes=_shapes)
    a = jnp.linspace(-1.0, 1.0, 6).reshape(2, 3)
    b = jnp.linspace(0.5, 2.0, 6).reshape(3, 2)
    check_grads(lambda a, b: f(a, b)[0], (a, b), order=1, modes=["rev"])


def test_torch_to_jax_vmap():
    f = torch_to_jax(lambda x: torch.cumsum(x, 0),
                     out_shapes=lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype))
    xs = jnp.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(np.asarray(jax.vmap(f)(xs)), np.cumsum(np.asarray(xs), 1))


def test_torch_to_jax_integer_input_gets_no_gradient():
    f = torch_to_jax(lambda x, n: x * n.to(x.dtype),
                     out_shapes=lambda x, n: jax.ShapeDtypeStruct(x.shape, x.dtype))
    g = jax.grad(lambda x, n: jnp.sum(f(x, n)))(jnp.ones(3), jnp.array(3, jnp.int32))
    np.testing.assert_allclose(np.asarray(g), 3.0)


def test_torch_to_jax_bfloat16_output():
    f = torch_to_jax(lambda x: x.to(torch.bfloat16) * 2,
                     out_shapes=lambda x: jax.ShapeDtypeStruct(x.shape, jnp.bfloat16))
    out = f(jnp.arange(4.0))
    assert out.dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(out, np.float32), [0, 2, 4, 6])


def test_torch_to_jax_wrong_out_shapes_is_a_clear_error():
    f = torch_to_jax(lambda x: x.sum(), out_shapes=jax.ShapeDtypeStruct((2,), jnp.float32))
    with pytest.raises(Exception, match="out_shapes` declares"):
        jax.block_until_ready(f(jnp.ones(3)))
