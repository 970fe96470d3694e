"""Test harness shared by every test directory.

- `gpu` marker: skipped cleanly unless torch sees a CUDA device.
- Triton runs through its interpreter on machines without CUDA
  (`TRITON_INTERPRET=1` is set here, before anything imports triton).
- `x64` fixture: float64 tests enable JAX's x64 mode for their own scope only.
- `rng` fixture: a NumPy generator seeded per test (deterministic).
- JAX's compilation caches are cleared after every test module: each compiled
  CPU executable keeps a few memory mappings alive, and one process running the
  whole suite would otherwise reach the kernel's `vm.max_map_count` (65,530),
  where XLA's compiler crashes with a segmentation fault.
"""

from __future__ import annotations

import gc
import os
import zlib

import numpy as np
import pytest

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import torch

HAS_CUDA = torch.cuda.is_available()
if not HAS_CUDA:
    os.environ.setdefault("TRITON_INTERPRET", "1")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402 - after TRITON_INTERPRET/JAX_PLATFORMS are set

from jaxla import enable_x64  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if HAS_CUDA:
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (gpu marker)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def x64():
    """Enable JAX 64-bit mode for the duration of one test."""
    with enable_x64(True):
        yield


@pytest.fixture
def rng(request):
    """A NumPy generator seeded from the test's name: stable across runs and orders."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop the module's compiled executables (and their memory mappings) when it ends."""
    yield
    jax.clear_caches()
    gc.collect()


@pytest.fixture(autouse=True)
def _x64_is_off_by_default():
    """Every test starts with x64 off unless it asks for the `x64` fixture."""
    assert not jax.config.jax_enable_x64, "x64 leaked from an earlier test"
    yield
