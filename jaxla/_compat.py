"""Small shims over JAX API differences between the versions we support."""

from __future__ import annotations

import contextlib

import jax


def enable_x64(enabled: bool = True) -> contextlib.AbstractContextManager:
    """Scoped 64-bit mode: `with enable_x64(): ...` (JAX >= 0.10 and older)."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(enabled)
    from jax.experimental import enable_x64 as _ex  # pragma: no cover - old JAX

    return _ex(enabled)  # pragma: no cover
