"""Cross-check cases for `jaxla.basics`: norms, normalization, cosine, trace."""

from __future__ import annotations

import numpy as np

import jaxla
from torchbridge import linalg as tl
from torchbridge.crosscheck.registry import Case, register


def _batch(rng):
    return (rng.standard_normal((3, 6, 5)),)


for _ord, _name in ((1, "l1"), (2, "l2"), (np.inf, "linf")):
    register(Case(
        name=f"vector_norm/{_name}",
        make_inputs=_batch,
        reference=lambda x, o=_ord: np.linalg.norm(x, ord=o, axis=-1),
        jax_fn=lambda x, o=_ord: jaxla.vector_norm(x, o),
        torch_fn=lambda x, o=_ord: tl.vector_norm(x, o),
    ))

for _ord, _name in (("fro", "fro"), (1, "one"), (np.inf, "inf")):
    register(Case(
        name=f"matrix_norm/{_name}",
        make_inputs=_batch,
        reference=lambda x, o=_ord: np.linalg.norm(x, ord=o, axis=(-2, -1)),
        jax_fn=lambda x, o=_ord: jaxla.matrix_norm(x, o),
        torch_fn=lambda x, o=_ord: tl.matrix_norm(x, o),
    ))

register(Case(
    name="vector_norm/huge",
    make_inputs=lambda rng: (1e30 * rng.standard_normal((4, 8)),),
    reference=lambda x: np.linalg.norm(x, axis=-1),
    jax_fn=lambda x: jaxla.vector_norm(x),
    torch_fn=lambda x: tl.vector_norm(x),
))

register(Case(
    name="normalize/rows",
    make_inputs=lambda rng: (rng.standard_normal((5, 7)),),
    reference=lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True),
    jax_fn=jaxla.normalize,
    torch_fn=tl.normalize,
))

register(Case(
    name="cosine_similarity/rows",
    make_inputs=lambda rng: (rng.standard_normal((5, 7)), rng.standard_normal((5, 7))),
    reference=lambda x, y: np.sum(x * y, -1) / (np.linalg.norm(x, axis=-1)
                                                 * np.linalg.norm(y, axis=-1)),
    jax_fn=jaxla.cosine_similarity,
    torch_fn=tl.cosine_similarity,
))

register(Case(
    name="trace/batch",
    make_inputs=lambda rng: (rng.standard_normal((4, 6, 6)),),
    reference=lambda a: np.trace(a, axis1=-2, axis2=-1),
    jax_fn=jaxla.trace,
    torch_fn=tl.trace,
))
