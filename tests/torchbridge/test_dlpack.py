"""to_torch / to_jax: zero-copy, exact round trips, layouts, and the documented edge cases."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import torchbridge
from torchbridge import check_unmodified, to_jax, to_torch, tree_to_jax, tree_to_torch

_DTYPES_32 = [torch.float16, torch.bfloat16, torch.float32, torch.int8, torch.int16,
              torch.int32, torch.uint8, torch.bool, torch.complex64]
_DTYPES_64 = [torch.float64, torch.int64, torch.complex128]


def _random_tensor(dtype: torch.dtype, shape=(5, 7), seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        return torch.rand(shape, generator=g) > 0.5
    if dtype.is_complex:
        return torch.randn(shape, dtype=dtype, generator=g)
    if dtype.is_floating_point:
        return (torch.randn(shape, generator=g) * 100).to(dtype)
    info = torch.iinfo(dtype)
    return torch.randint(info.min, info.max, shape, generator=g, dtype=dtype)


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


@pytest.mark.parametrize("dtype", _DTYPES_32, ids=str)
def test_roundtrip_exact_32bit(dtype):
    t = _random_tensor(dtype)
    x = to_jax(t)
    assert x.shape == tuple(t.shape)
    assert np.dtype(x.dtype).itemsize == t.element_size()
    assert _same(to_torch(x), t)
    # And starting from JAX.
    assert np.array_equal(np.asarray(to_jax(to_torch(x))), np.asarray(x))


@pytest.mark.parametrize("dtype", _DTYPES_64, ids=str)
def test_roundtrip_exact_64bit(dtype, x64):
    t = _random_tensor(dtype)
    x = to_jax(t)
    assert str(x.dtype) == str(t.dtype).replace("torch.", "")
    assert _same(to_torch(x), t)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.bool, torch.complex64,
                                   torch.float16, torch.int32, torch.uint8], ids=str)
def test_zero_copy_both_directions(dtype):
    t = _random_tensor(dtype, (64, 32))
    x = to_jax(t)
    assert x.unsafe_buffer_pointer() == t.data_ptr()
    y = jnp.ones((16, 8), dtype=x.dtype)
    assert to_torch(y).data_ptr() == y.unsafe_buffer_pointer()


def test_zero_copy_64bit(x64):
    t = torch.arange(12, dtype=torch.float64)
    assert to_jax(t).unsafe_buffer_pointer() == t.data_ptr()


@pytest.mark.parametrize("shape", [(), (0,), (0, 3), (3, 0, 2), (1,), (1, 1), (4, 1, 3)], ids=str)
def test_scalar_empty_and_size_one_dims(shape):
    t = torch.randn(shape)
    x = to_jax(t)
    assert x.shape == shape
    np.testing.assert_array_equal(np.asarray(x), t.numpy())
    back = to_torch(x)
    assert tuple(back.shape) == shape
    assert torch.equal(back, t)


def _views():
    base = torch.arange(4 * 6 * 5, dtype=torch.float32).reshape(4, 6, 5)
    return {
        "transpose": base[0].T,
        "permute": base.permute(2, 0, 1),
        "step_slice": base[:, ::2, 1::2],
        "negative_offset_narrow": base[1:, 2:5, 3],
        "expand": torch.arange(5.0).reshape(1, 5).expand(3, 5),
        "diagonal": base[0].diagonal(),
        "unaligned_offset": torch.arange(10.0)[1:],
    }


@pytest.mark.parametrize("name", list(_views()))
def test_non_contiguous_values_are_correct(name):
    view = _views()[name]
    x = to_jax(view)
    np.testing.assert_array_equal(np.asarray(x), view.numpy())


def test_contiguous_with_odd_size_one_strides_is_zero_copy():
    t = torch.empty_strided((3, 1, 4), (4, 99, 1))
    t.copy_(torch.arange(12.0).reshape(3, 1, 4))
    assert t.is_contiguous()
    x = to_jax(t)
    np.testing.assert_array_equal(np.asarray(x), t.numpy())
    assert x.unsafe_buffer_pointer() == t.data_ptr()


def test_requires_grad_is_detached_without_copy():
    t = torch.randn(4, 3, requires_grad=True)
    x = to_jax(t)
    assert x.unsafe_buffer_pointer() == t.data_ptr()
    np.testing.assert_array_equal(np.asarray(x), t.detach().numpy())


def test_conjugate_bit_is_materialized():
    c = torch.randn(3, 4, dtype=torch.complex64)
    view = c.conj()
    assert view.is_conj()
    np.testing.assert_array_equal(np.asarray(to_jax(view)), np.conj(c.numpy()))


def test_negative_bit_is_materialized():
    c = torch.randn(3, dtype=torch.complex64)
    neg = c.conj().imag  # a view with the negative bit set
    assert neg.is_neg()
    np.testing.assert_array_equal(np.asarray(to_jax(neg)), -c.numpy().imag)


@pytest.mark.parametrize("dtype", _DTYPES_64, ids=str)
def test_64bit_tensor_without_x64_raises(dtype):
    with pytest.raises(TypeError, match="64-bit mode is off"):
        to_jax(torch.zeros(3, dtype=dtype))


def test_traced_value_raises():
    @jax.jit
    def f(x):
        return to_torch(x)

    with pytest.raises(TypeError, match="traced JAX value"):
        f(jnp.ones(3))


def test_bad_types_raise():
    with pytest.raises(TypeError, match="`t` must be a torch.Tensor"):
        to_jax(np.ones(3))
    with pytest.raises(TypeError, match="`x` must be a jax.Array"):
        to_torch([1.0, 2.0])
    if hasattr(torch, "float8_e4m3fn"):
        with pytest.raises(TypeError, match="unsupported dtype"):
            to_jax(torch.zeros(2, dtype=torch.float8_e4m3fn))


def test_copy_true_gives_independent_buffers():
    x = jnp.arange(6.0)
    t = to_torch(x, copy=True)
    assert t.data_ptr() != x.unsafe_buffer_pointer()
    t.add_(1)
    np.testing.assert_array_equal(np.asarray(x), np.arange(6.0))
    s = torch.arange(6.0)
    y = to_jax(s, copy=True)
    s.add_(1)
    np.testing.assert_array_equal(np.asarray(y), np.arange(6.0))


def test_aliasing_hazard_is_detected_by_the_guard():
    x = jnp.arange(4.0)
    t = to_torch(x)
    check_unmodified(t)  # untouched: no error
    t.mul_(2)  # the hazard: this mutates the JAX array's buffer
    with pytest.raises(RuntimeError, match="modified in place"):
        check_unmodified(t)
    with pytest.raises(ValueError, match="not produced by to_torch"):
        check_unmodified(torch.ones(2))


def test_numpy_input_to_torch():
    a = np.arange(6.0).reshape(2, 3)
    assert torch.equal(to_torch(a), torch.from_numpy(a))
    ro = np.arange(3.0)
    ro.flags.writeable = False
    assert torch.equal(to_torch(ro), torch.arange(3.0, dtype=torch.float64))


def test_trees():
    tree = {"a": jnp.ones((2, 2)), "b": [jnp.arange(3), 7, "tag"], "c": None}
    tt = tree_to_torch(tree)
    assert isinstance(tt["a"], torch.Tensor) and isinstance(tt["b"][0], torch.Tensor)
    assert tt["b"][1:] == [7, "tag"] and tt["c"] is None
    back = tree_to_jax(tt)
    assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(tree)
    np.testing.assert_array_equal(np.asarray(back["b"][0]), np.arange(3))


def test_sharded_array_raises():
    script = textwrap.dedent("""
        import os
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
        os.environ["JAX_PLATFORMS"] = "cpu"
        import jax, jax.numpy as jnp, numpy as np
        from jax.sharding import Mesh, NamedSharding, PartitionSpec
        from torchbridge import to_torch
        mesh = Mesh(np.array(jax.devices()), ("d",))
        x = jax.device_put(jnp.arange(8.0), NamedSharding(mesh, PartitionSpec("d")))
        try:
            to_torch(x)
        except ValueError as e:
            print("OK", e)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert "OK" in out.stdout and "sharded over 2 devices" in out.stdout, out.stderr[-2000:]


def test_public_names():
    for name in ("to_torch", "to_jax", "tree_to_torch", "tree_to_jax",
                 "jax_to_torch", "torch_to_jax"):
        assert name in torchbridge.__all__


@pytest.mark.gpu
def test_cuda_roundtrip_zero_copy():
    t = torch.randn(256, 64, device="cuda")
    x = to_jax(t)
    assert x.unsafe_buffer_pointer() == t.data_ptr()
    assert list(x.devices())[0].platform == "gpu"
    back = to_torch(x)
    assert back.device.type == "cuda" and back.data_ptr() == t.data_ptr()


@pytest.mark.gpu
def test_cuda_stream_ordering():
    # Work queued on a side stream must be complete before JAX reads the buffer.
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        a = torch.randn(2048, 2048, device="cuda")
        b = a @ a
        for _ in range(10):
            b = b @ a / 2048
        x = to_jax(b)
        expected = b.cpu().numpy()
    np.testing.assert_allclose(np.asarray(x), expected, rtol=1e-6)
    y = jnp.ones((4096, 4096)) @ jnp.ones((4096, 4096))
    t = to_torch(y)
    assert float(t[0, 0]) == 4096.0
