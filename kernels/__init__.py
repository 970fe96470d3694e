"""kernels: Triton GPU kernels (flash attention), importable without a GPU.

Triton is imported lazily, on first use of a kernel, so `import kernels`
works on machines without triton or CUDA. On CPU the kernels run through
Triton's interpreter when `TRITON_INTERPRET=1` is set before triton is imported.
"""

from __future__ import annotations

__all__ = ["flash_attention"]


def __getattr__(name: str):
    # PEP 562: import the Triton module on first use of `kernels.flash_attention`.
    # Importing the submodule binds `kernels.flash_attention` to the module, so the
    # function is bound explicitly afterwards (reach the module via sys.modules).
    if name == "flash_attention":
        from kernels.flash_attention import flash_attention

        globals()["flash_attention"] = flash_attention
        return flash_attention
    raise AttributeError(f"module 'kernels' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
