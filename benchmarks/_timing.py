"""Timing helpers shared by the benchmark scripts (`import _timing`).

All times are wall-clock minima over repeats, after a warm-up call (which
also compiles JAX functions). The callables must block until their result is
ready (wrap JAX calls in `jax.block_until_ready`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping


def best_of(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """(min wall time in seconds over `repeats` timed calls, last output), after a warm-up."""
    out = fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def interleaved(fns: Mapping[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Min wall time (s) of each named callable, timed in interleaved rounds.

    Each round runs every implementation, so a burst of load on a shared
    machine hits all of them alike. Within a round each implementation gets
    one untimed call right before its timed one: the thread pools of the
    library that ran just before (OpenMP/OpenBLAS workers spin for a while
    after a call) would otherwise slow down whichever implementation follows.
    """
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            fn()
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best
