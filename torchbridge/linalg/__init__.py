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
from torchbridge.linalg.eigen import (
    EigenpairResult,
    EighResult,
    deflated_power_iteration,
    generalized_eigh,
    inverse_iteration,
    power_iteration,
    rayleigh_quotient_iteration,
)
from torchbridge.linalg.krylov import ArnoldiResult, arnoldi, lanczos_eigsh
from torchbridge.linalg.operators import hvp
from torchbridge.linalg.qr_algorithm import SchurResult, eigh_qr, eigvals_qr, schur

# --- factorizations and solvers (factorizations.py, solvers.py) --------------
from torchbridge.linalg.factorizations import (
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
from torchbridge.linalg.solvers import (
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
from torchbridge.linalg.svd import SVDResult, svd

# --- randomized low rank and decompositions (randomized.py, decompositions.py)
from torchbridge.linalg.decompositions import (
    PCAResult,
    kernel_pca,
    nmf,
    pca,
    pca_transform,
)
from torchbridge.linalg.randomized import (
    QLPResult,
    randomized_eigh,
    randomized_svd,
    randomized_svd_from_sketch,
    range_finder,
    ru_qlp,
)

# --- matrix functions and Gaussians (matfun.py, gaussian.py) -----------------
from torchbridge.linalg.gaussian import (
    cross_entropy,
    entropy,
    kl_divergence,
    mvn_logpdf,
    mvn_sample,
)
from torchbridge.linalg.matfun import expm, funm_eigh

# --- optimization (optim.py, stochastic.py) -----------------------------------
from torchbridge.linalg.optim import (
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
from torchbridge.linalg.stochastic import adam, minibatch_indices, sgd

# --- attention (attention.py) -------------------------------------------------
from torchbridge.linalg.attention import attention, flash_attention, multi_head_attention

__all__ = sorted(
    name for name, value in dict(globals()).items()
    if not name.startswith("_") and not isinstance(value, _types.ModuleType)
)
