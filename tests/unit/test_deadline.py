"""The one place a sweep's deadlines come from (netcheck.deadline)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from netcheck_agent import protocol as p

from netcheck.deadline import MARGIN_S, MARGIN_SHARE, ProbeLoad


def test_one_wave_is_samples_times_the_slower_of_interval_and_timeout_plus_a_timeout() -> None:
    b = ProbeLoad(cells=6, samples=20, interval_ms=1000, timeout_ms=2000, concurrency=256).budget()
    work = (20 * 2000 + 2000) / 1000
    assert b.seconds == pytest.approx(work + MARGIN_S + MARGIN_SHARE * work)
    assert b.why.startswith("20 samples × 2000 ms + 2000 ms timeout + ")
    assert "margin" in b.why


def test_more_cells_than_concurrency_take_one_budget_per_wave() -> None:
    one = ProbeLoad(cells=10, samples=3, interval_ms=200, timeout_ms=100, concurrency=10)
    three = ProbeLoad(cells=21, samples=3, interval_ms=200, timeout_ms=100, concurrency=10)
    assert three.budget(0).seconds == pytest.approx(3 * one.budget(0).seconds)
    assert three.budget().why.startswith("3 waves of 10 cells × (3 samples × 200 ms")


def test_the_load_of_a_batch_takes_its_worst_cell() -> None:
    reqs = [
        p.ProbeRequest("a", "tcp_connect", "127.0.0.1", 1, samples=2, interval_ms=50),
        p.ProbeRequest("b", "tls", "127.0.0.1", 2, samples=5, timeout_ms=3000),
    ]
    load = ProbeLoad.of(reqs, 4)
    assert (load.cells, load.samples, load.interval_ms, load.timeout_ms) == (2, 5, 50, 3000)
    assert load.with_cells(0).budget(1.0).seconds > 1.0  # never zero: the wait still ends


def test_a_load_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError):
        ProbeLoad(cells=1, samples=0, interval_ms=0, timeout_ms=0, concurrency=1)


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.integers(0, 100_000),
    st.integers(1, 100),
    st.integers(0, 60_000),
    st.integers(10, 60_000),
    st.integers(1, 4096),
    st.floats(0, 60),
)
def test_seconds_is_the_budgets_figure(
    cells: int, samples: int, interval: int, timeout: int, conc: int, margin: float
) -> None:
    # asked after every result, so computed without the words; never a different figure
    load = ProbeLoad(cells, samples, interval, timeout, conc)
    assert load.seconds(margin) == pytest.approx(load.budget(margin).seconds, rel=1e-12)
