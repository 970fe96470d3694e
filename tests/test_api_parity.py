"""`jaxla`, `torchbridge.linalg` and the cross-check registry line up name for name."""

from __future__ import annotations

import inspect

import jaxla
from torchbridge import linalg
from torchbridge.crosscheck import registry

# Public names that are not algorithms (no twin or case expected).
_NOT_ALGORITHMS = {"enable_x64"}


def _public_functions():
    for name in jaxla.__all__:
        obj = getattr(jaxla, name)
        if name in _NOT_ALGORITHMS or inspect.isclass(obj) or not callable(obj):
            continue
        yield name


def test_every_jaxla_function_has_a_torch_twin():
    missing = [n for n in _public_functions() if not hasattr(linalg, n)]
    assert not missing, f"no torchbridge.linalg twin for: {missing}"


def test_every_jaxla_function_has_a_crosscheck_case():
    covered = {c.name.split("/")[0] for c in registry.all_cases()}
    missing = [n for n in _public_functions() if n not in covered]
    assert not missing, f"no cross-check case named '<function>/...' for: {missing}"


def test_result_types_share_field_names():
    for name in jaxla.__all__:
        obj = getattr(jaxla, name)
        if inspect.isclass(obj) and hasattr(obj, "_fields") and hasattr(linalg, name):
            assert getattr(linalg, name)._fields == obj._fields, name
