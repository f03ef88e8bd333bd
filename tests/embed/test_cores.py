"""Free cores from two CPU samples, and the streams and threads chosen from them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.embed.cores import (
    MIN_WINDOW_S,
    CpuSample,
    StreamPlan,
    busy_cores,
    busy_since,
    cpu_sample,
    free_cores,
    stream_plan,
)
from rag.thresholds import Thresholds


@pytest.mark.parametrize("n, busy, free", [
    (2, 0.0, 2), (2, 0.3, 2), (2, 0.5, 1), (2, 1.0, 1), (2, 1.4, 1), (2, 1.6, 1), (2, 3.0, 1),
    (8, 0.0, 8), (8, 1.2, 7), (8, 2.5, 5), (8, 5.6, 2), (8, 9.0, 1), (1, 0.9, 1),
])
def test_free_cores_counts_a_core_taken_from_half_of_it(n: int, busy: float, free: int) -> None:
    assert free_cores(n, busy, Thresholds(embed_busy_share=0.5)) == free


@pytest.mark.parametrize("n, free, extra, streams", [
    (2, 2, 1, 2), (2, 1, 1, 2), (2, 1, 0, 1), (1, 1, 1, 1), (8, 8, 1, 8), (8, 3, 1, 4), (8, 1, 0, 1),
    (8, 0, 1, 2), (4, 9, 1, 4),
])
def test_stream_plan_runs_one_single_threaded_stream_per_free_core_plus_the_extra(
        n: int, free: int, extra: int, streams: int) -> None:
    plan = stream_plan(n, free, Thresholds(embed_streams_on_busy=extra))
    assert plan == StreamPlan(streams=streams, threads=1, free=max(1, min(free, n)), cores=n)


def test_busy_cores_are_the_machine_busy_time_less_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    start = CpuSample(busy_s=100.0, own_s=5.0, wall_s=10.0)
    end = CpuSample(busy_s=101.5, own_s=5.5, wall_s=11.0)  # 1.5 core-seconds busy, 0.5 of them ours
    assert busy_cores(start, end) == pytest.approx(1.0)
    assert busy_cores(start, CpuSample(100.2, 5.4, 11.0)) == 0.0  # never below zero
    monkeypatch.setattr(os, "getloadavg", lambda: (1.7, 1.0, 1.0))
    assert busy_cores(start, CpuSample(None, 5.5, 11.0)) == 1.7  # no /proc/stat: the load average


def test_a_too_short_window_is_waited_out() -> None:
    start = cpu_sample()
    busy = busy_since(start)
    assert cpu_sample().wall_s - start.wall_s >= MIN_WINDOW_S
    assert 0.0 <= busy <= (os.cpu_count() or 1) + 0.5


def test_cpu_sample_reads_proc_stat_and_survives_its_absence(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 50 1000 25 0 10 0 0 0\ncpu0 50 0 25 500 12 0 5 0 0 0\n")
    sample = cpu_sample(str(stat))
    assert sample.busy_s == pytest.approx(160 / os.sysconf("SC_CLK_TCK"))  # user+system+softirq, not idle/iowait
    assert sample.own_s > 0 and sample.wall_s > 0
    assert cpu_sample(str(tmp_path / "missing")).busy_s is None
    stat.write_text("garbage\n")
    assert cpu_sample(str(stat)).busy_s is None

