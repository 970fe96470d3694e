"""Shared runner for the example smoke tests."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

_EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def run_example(tmp_path):
    """run_example(name, *flags) -> stdout; asserts exit 0 and a non-trivial `<name>.png`."""

    def run(name: str, *flags: str) -> str:
        done = subprocess.run(
            [sys.executable, str(_EXAMPLES / f"{name}.py"), *flags, f"--out_dir={tmp_path}"],
            capture_output=True, text=True, timeout=300, check=False,
            env=dict(os.environ, JAX_PLATFORMS="cpu"))
        assert done.returncode == 0, done.stderr[-3000:]
        png = tmp_path / f"{name}.png"
        assert png.exists() and png.stat().st_size > 10_000, png
        return done.stdout

    return run
