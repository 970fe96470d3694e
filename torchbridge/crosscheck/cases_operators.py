"""Cross-check case for `hvp`: a pytree loss whose Hessian is known in closed form."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import torch

import jaxla
from torchbridge import linalg as tl
from torchbridge.crosscheck.registry import Case, register


def _inputs(rng):
    a = rng.standard_normal((5, 5))
    return a + a.T, rng.standard_normal(5), rng.standard_normal(5)


def _reference(a, w, v):
    # f(x) = x^T A x / 2 + sum(x^4) / 4  =>  H = A + diag(3 x^2)
    return (a + np.diag(3 * w**2)) @ v


def _jax(a, w, v):
    def f(p):
        x = jnp.concatenate([p["a"], p["b"]])
        return 0.5 * x @ a @ x + jnp.sum(x**4) / 4

    return jaxla.hvp(f, {"b": w[2:], "a": w[:2]})(v)


def _torch(a, w, v):
    def f(p):
        x = torch.cat([p["a"], p["b"]])
        return 0.5 * x @ a @ x + (x**4).sum() / 4

    return tl.hvp(f, {"b": w[2:], "a": w[:2]})(v)


register(Case(name="hvp/pytree_quartic", make_inputs=_inputs, reference=_reference,
              jax_fn=_jax, torch_fn=_torch))
