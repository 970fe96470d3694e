"""Independent PyTorch implementations of every `jaxla` algorithm.

Written from the math in idiomatic PyTorch (not transliterated from the JAX
code), with the same names and semantics, so that a bug in one cannot hide in
the other. Randomized functions take `generator=` instead of a JAX key.
"""

import types as _types

# --- basics -----------------------------------------------------------------
from torchbridge.linalg.basics import (
    cosine_similarity,
    matrix_norm,
    normalize,
    trace,
    vector_norm,
)

# --- eigen-solvers (eigen.py, qr_algorithm.py, krylov.py, operators.py) ------

# --- factorizations and solvers (factorizations.py, solvers.py) --------------

# --- randomized low rank and decompositions (randomized.py, decompositions.py)

# --- matrix functions and Gaussians (matfun.py, gaussian.py) -----------------

# --- optimization (optim.py) --------------------------------------------------

# --- attention (attention.py) -------------------------------------------------

__all__ = sorted(
    name for name, value in dict(globals()).items()
    if not name.startswith("_") and not isinstance(value, _types.ModuleType)
)
