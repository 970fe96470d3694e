"""jaxla: pure-functional, jit-compiled numerical linear algebra for JAX.

Every public name is re-exported here; import from `jaxla`, never from the
inner modules. See DESIGN.md for the contract.
"""

import types as _types

from jaxla._compat import enable_x64

# --- basics -----------------------------------------------------------------
from jaxla.basics import cosine_similarity, matrix_norm, normalize, trace, vector_norm

# --- eigen-solvers (eigen.py, qr_algorithm.py, krylov.py, operators.py) ------
from jaxla import operators
from jaxla.eigen import (
    EigenpairResult,
    EighResult,
    deflated_power_iteration,
    generalized_eigh,
    inverse_iteration,
    power_iteration,
    rayleigh_quotient_iteration,
)
from jaxla.krylov import ArnoldiResult, arnoldi, lanczos_eigsh
from jaxla.operators import hvp
from jaxla.qr_algorithm import SchurResult, eigh_qr, eigvals_qr, schur

# --- factorizations and solvers (factorizations.py, solvers.py) --------------
from jaxla.factorizations import (
    LDLResult,
    RREFResult,
    cholesky,
    is_positive_definite,
    ldl,
    lu,
    lu_factor,
    qr,
    rref,
)
from jaxla.solvers import (
    LstsqResult,
    SlogdetResult,
    checked,
    cho_solve,
    cond,
    det,
    inv,
    lstsq,
    lu_solve,
    matrix_rank,
    pinv,
    slogdet,
    solve,
    solve_triangular,
)
from jaxla.svd import SVDResult, svd

# --- randomized low rank and decompositions (randomized.py, decompositions.py)
from jaxla.decompositions import (
    PCAResult,
    kernel_pca,
    nmf,
    pca,
    pca_transform,
)
from jaxla.randomized import (
    QLPResult,
    randomized_eigh,
    randomized_svd,
    randomized_svd_from_sketch,
    range_finder,
    ru_qlp,
)

# --- matrix functions and Gaussians (matfun.py, gaussian.py) -----------------
from jaxla.gaussian import (
    cross_entropy,
    entropy,
    kl_divergence,
    mvn_logpdf,
    mvn_sample,
)
from jaxla.matfun import expm, funm_eigh

# --- optimization (optim.py, stochastic.py) -----------------------------------
from jaxla.optim import (
    CGInfo,
    GDParams,
    HeavyBallParams,
    OptimTrace,
    Problem,
    SpectralBounds,
    conjugate_gradient,
    gradient_descent,
    heavy_ball,
    least_squares,
    nesterov,
    optimal_gd_params,
    optimal_heavy_ball_params,
    quadratic,
    spectral_bounds,
)
from jaxla.stochastic import adam, minibatch_indices, sgd

# --- attention (attention.py) -------------------------------------------------
from jaxla.attention import attention, flash_attention, multi_head_attention

__version__ = "0.1.0"

__all__ = sorted(
    name for name, value in dict(globals()).items()
    if not name.startswith("_") and not isinstance(value, _types.ModuleType)
)
