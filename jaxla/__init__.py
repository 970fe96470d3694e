"""jaxla: pure-functional, jit-compiled numerical linear algebra for JAX.

Every public name is re-exported here; import from `jaxla`, never from the
inner modules. See DESIGN.md for the contract.
"""

import types as _types

from jaxla._compat import enable_x64

# --- basics -----------------------------------------------------------------
from jaxla.basics import cosine_similarity, matrix_norm, normalize, trace, vector_norm

# --- eigen-solvers (eigen.py, qr_algorithm.py, krylov.py, operators.py) ------

# --- factorizations and solvers (factorizations.py, solvers.py) --------------

# --- randomized low rank and decompositions (randomized.py, decompositions.py)

# --- matrix functions and Gaussians (matfun.py, gaussian.py) -----------------

# --- optimization (optim.py) --------------------------------------------------

# --- attention (attention.py) -------------------------------------------------

__version__ = "0.1.0"

__all__ = sorted(
    name for name, value in dict(globals()).items()
    if not name.startswith("_") and not isinstance(value, _types.ModuleType)
)
