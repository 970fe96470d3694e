"""kernels: Triton GPU kernels (flash attention), importable without a GPU.

Triton is imported lazily, on first use of a kernel, so `import kernels`
works on machines without triton or CUDA. On CPU the kernels run through
Triton's interpreter when `TRITON_INTERPRET=1` is set before triton is imported.
"""
