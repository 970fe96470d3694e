"""Cross-checks of `jaxla` vs `torchbridge.linalg` vs a float64 reference.

Run the report with `python -m torchbridge.crosscheck`; the same table
parametrizes `tests/crosscheck`.
"""

from torchbridge.crosscheck.registry import (
    Case,
    CaseResult,
    all_cases,
    eigvecs,
    fields,
    register,
    run_case,
    select,
    subspace,
    values,
)

__all__ = [
    "Case",
    "CaseResult",
    "all_cases",
    "eigvecs",
    "fields",
    "register",
    "run_case",
    "select",
    "subspace",
    "values",
]
