"""Cross-check cases for the bridge: DLPack round trips and the two wrappers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import torch

from torchbridge import dlpack, wrap
from torchbridge.crosscheck.registry import Case, register

_EXACT = {"float32": 0.0, "float64": 0.0}


def _identity(*xs):
    return xs[0] if len(xs) == 1 else xs


def _roundtrip_case(name: str, make, cast: bool = True) -> None:
    register(Case(
        name=f"roundtrip/{name}",
        make_inputs=make,
        reference=_identity,
        jax_fn=lambda x: dlpack.to_jax(dlpack.to_torch(x)),
        torch_fn=lambda t: dlpack.to_torch(dlpack.to_jax(t)),
        tol=_EXACT,
        jit=False,
        cast=cast,
    ))


def _f32(x):
    """Values exactly representable in float32, so the round trip must be exact."""
    return np.asarray(x).astype(np.float32).astype(np.float64)


_roundtrip_case("real", lambda rng: (_f32(rng.standard_normal((17, 5))),))
_roundtrip_case("complex", lambda rng: (_f32(rng.standard_normal((4, 3)))
                                        + 1j * _f32(rng.standard_normal((4, 3))),))
_roundtrip_case("int32", lambda rng: (rng.integers(-1000, 1000, (6, 7), dtype=np.int32),),
                cast=False)
_roundtrip_case("bool", lambda rng: (rng.random((5, 5)) > 0.5,), cast=False)
_roundtrip_case("scalar", lambda rng: (_f32(rng.standard_normal()),))
_roundtrip_case("empty", lambda rng: (np.zeros((0, 3)),))


# ---------------------------------------------------------------- the wrappers
def _f(x, y, w):
    """3 inputs, 2 outputs: (sum(sin(x) * y) + tr(w), w @ x)."""
    return jnp.sum(jnp.sin(x) * y) + jnp.trace(w), w @ x


def _f_numpy(x, y, w):
    return np.sum(np.sin(x) * y) + np.trace(w), w @ x


def _f_torch(x, y, w):
    return (torch.sin(x) * y).sum() + torch.trace(w), w @ x


def _grad_numpy(x, y, w):
    # gradient of out0 + sum(out1) with respect to (x, y, w)
    return (np.cos(x) * y + w.T @ np.ones((w.shape[0], x.shape[1])),
            np.sin(x),
            np.eye(w.shape[0]) + np.ones((w.shape[0], x.shape[1])) @ x.T)


def _inputs(rng):
    return rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), rng.standard_normal((4, 4))


_jax_f_in_torch = wrap.jax_to_torch(_f)

register(Case(
    name="jax_to_torch/forward",
    make_inputs=_inputs,
    reference=_f_numpy,
    jax_fn=_f,
    torch_fn=_jax_f_in_torch,
))


def _torch_grad_via_jax(x, y, w):
    with torch.enable_grad():
        leaves = [t.detach().clone().requires_grad_(True) for t in (x, y, w)]
        s, m = _jax_f_in_torch(*leaves)
        return torch.autograd.grad(s + m.sum(), leaves)


register(Case(
    name="jax_to_torch/grad",
    make_inputs=_inputs,
    reference=_grad_numpy,
    jax_fn=jax.grad(lambda x, y, w: _f(x, y, w)[0] + jnp.sum(_f(x, y, w)[1]), argnums=(0, 1, 2)),
    torch_fn=_torch_grad_via_jax,
))


def _torch_f_in_jax():
    return wrap.torch_to_jax(
        _f_torch,
        out_shapes=lambda x, y, w: (jax.ShapeDtypeStruct((), x.dtype),
                                    jax.ShapeDtypeStruct((w.shape[0], x.shape[1]), x.dtype)),
    )


def _torch_grad(x, y, w):
    with torch.enable_grad():
        leaves = [t.detach().clone().requires_grad_(True) for t in (x, y, w)]
        s, m = _f_torch(*leaves)
        return torch.autograd.grad(s + m.sum(), leaves)


register(Case(
    name="torch_to_jax/forward",
    make_inputs=_inputs,
    reference=_f_numpy,
    jax_fn=lambda x, y, w: _torch_f_in_jax()(x, y, w),
    torch_fn=_f_torch,
))


def _jax_grad_via_torch(x, y, w):
    g = _torch_f_in_jax()

    def loss(x, y, w):
        s, m = g(x, y, w)
        return s + jnp.sum(m)

    return jax.grad(loss, argnums=(0, 1, 2))(x, y, w)


register(Case(
    name="torch_to_jax/grad",
    make_inputs=_inputs,
    reference=_grad_numpy,
    jax_fn=_jax_grad_via_torch,
    torch_fn=_torch_grad,
))
