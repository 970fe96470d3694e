"""Every cross-check case from the registry, at each of its dtypes, on CPU and GPU."""

from __future__ import annotations

import pytest

from torchbridge.crosscheck import registry

_CASES = registry.all_cases()


def _params():
    for case in _CASES:
        for dtype in case.dtypes:
            yield pytest.param(case, dtype, "cpu", id=f"{case.name}-{dtype}-cpu")
            if "cuda" in case.devices:
                yield pytest.param(case, dtype, "cuda", id=f"{case.name}-{dtype}-cuda",
                                   marks=pytest.mark.gpu)


@pytest.mark.parametrize("case,dtype,device", list(_params()))
def test_case(case, dtype, device):
    result = registry.run_case(case, dtype, device)
    assert result.status == "PASS", f"{result.status}: {result.message}"


def test_every_case_name_is_unique_and_namespaced():
    names = [c.name for c in _CASES]
    assert len(names) == len(set(names))
    assert all("/" in n for n in names), names
