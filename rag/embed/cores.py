"""How many CPU cores other processes leave free, and the OpenVINO streams and threads to run on them.

A `CpuSample` is taken when an embedder is made and again when it loads its model (its imports and
the model's compilation lie between, so the window costs no waiting); the busy time of the whole
machine over that window, less this process's own CPU time, is what other processes used (a
window shorter than MIN_WINDOW_S is waited out). Where /proc/stat is missing (not Linux), the
1-minute load average stands in. `stream_plan` turns the free cores into streams and threads by the rule in
rag.thresholds (`embed_busy_share`, `embed_streams_on_busy`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from rag.thresholds import THRESHOLDS, Thresholds

MIN_WINDOW_S = 0.1  # shorter windows hold too few clock ticks (10 ms each) to read


@dataclass(frozen=True)
class CpuSample:
    """Machine-wide busy CPU seconds (None without /proc/stat), this process's CPU seconds, wall clock."""

    busy_s: float | None
    own_s: float
    wall_s: float


@dataclass(frozen=True)
class StreamPlan:
    """OpenVINO CPU streams and threads per stream, and the free cores they were chosen from."""

    streams: int
    threads: int
    free: int
    cores: int


def cpu_sample(stat: str = "/proc/stat") -> CpuSample:
    """A snapshot to measure other processes' CPU use against a later one."""
    busy: float | None = None
    try:
        with open(stat, encoding="ascii") as fh:
            fields = fh.readline().split()
        if fields and fields[0] == "cpu":
            ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
            busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        busy = None
    times = os.times()
    return CpuSample(busy, times.user + times.system, time.monotonic())


def busy_cores(start: CpuSample, end: CpuSample) -> float:
    """Cores other processes kept busy between two samples (the load average when unreadable)."""
    window = end.wall_s - start.wall_s
    if start.busy_s is None or end.busy_s is None or window <= 0:
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    others = (end.busy_s - start.busy_s) - (end.own_s - start.own_s)
    return max(0.0, others / window)


def busy_since(start: CpuSample) -> float:
    """Cores other processes kept busy from `start` until now, waiting out a too short window."""
    end = cpu_sample()
    if start.busy_s is not None and end.wall_s - start.wall_s < MIN_WINDOW_S:
        time.sleep(MIN_WINDOW_S - (end.wall_s - start.wall_s))
        end = cpu_sample()
    return busy_cores(start, end)


def free_cores(cores: int, busy: float, limits: Thresholds = THRESHOLDS) -> int:
    """Cores left when `busy` cores' worth of other work runs; a core counts as taken from
    `embed_busy_share` of it. Never fewer than one."""
    taken = int(busy + 1.0 - limits.embed_busy_share) if busy >= limits.embed_busy_share else 0
    return max(1, cores - taken)


def stream_plan(cores: int, free: int, limits: Thresholds = THRESHOLDS) -> StreamPlan:
    """Streams and threads for `free` of `cores` cores: one single-threaded stream per free core,
    plus `embed_streams_on_busy` more on busy cores (a stream sharing a busy core still adds its share,
    and batches go to whichever stream is idle), at most one per core."""
    free = max(1, min(free, cores))
    streams = min(cores, free + limits.embed_streams_on_busy)
    return StreamPlan(streams=max(1, streams), threads=1, free=free, cores=cores)
