"""Open-loop send times are fixed by the rate alone, and work is split over driver processes exactly."""

import pytest

from benchmarks.options import RunOptions
from benchmarks.schedule import RatePlan, plan_processes, send_times, split, split_weighted


def test_a_constant_rate_spaces_requests_evenly_from_zero() -> None:
    times = list(send_times(RatePlan("const", rps=200), limit=5, duration=0))
    assert times == pytest.approx([0.0, 0.005, 0.010, 0.015, 0.020])


def test_a_duration_bounds_the_schedule_and_fixes_the_count() -> None:
    times = list(send_times(RatePlan("const", rps=50), limit=None, duration=2.0))
    assert len(times) == 100
    assert times[-1] < 2.0


def test_the_total_bounds_the_schedule_before_the_duration() -> None:
    assert len(list(send_times(RatePlan("const", rps=50), limit=10, duration=2.0))) == 10


def test_an_unbounded_open_loop_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a total"):
        next(send_times(RatePlan("const", rps=50), limit=None, duration=0))


def test_step_rates_follow_ghz_start_step_and_end() -> None:
    plan = RatePlan("step", start=10, step=5, end=20, step_duration=2.0)
    assert [plan.rate_at(t) for t in (0, 1.9, 2.0, 4.0, 6.0, 60.0)] == [10, 10, 15, 20, 20, 20]


def test_step_rates_hold_after_the_maximum_load_duration() -> None:
    plan = RatePlan("step", start=10, step=10, step_duration=1.0, max_duration=3.0)
    assert [plan.rate_at(t) for t in (0, 1, 2, 3, 10)] == [10, 20, 30, 40, 40]


def test_a_falling_step_schedule_stops_at_zero() -> None:
    plan = RatePlan("step", start=2, step=-1, step_duration=1.0)
    assert list(send_times(plan, limit=None, duration=10.0)) == pytest.approx([0.0, 0.5, 1.0])


def test_a_step_schedule_sends_as_many_requests_as_its_rates_integrate_to() -> None:
    plan = RatePlan("step", start=100, step=100, step_duration=1.0)
    times = list(send_times(plan, limit=None, duration=3.0))
    assert len(times) == 100 + 200 + 300
    per_second = [sum(1 for t in times if s <= t < s + 1) for s in range(3)]
    assert per_second == [100, 200, 300]


def test_phases_run_in_order_and_skip_idle_phases() -> None:
    plan = RatePlan.phased([(1.0, 10), (1.0, 0), (1.0, 50)])
    times = list(send_times(plan, limit=None, duration=0))
    assert plan.length == 3.0
    assert len(times) == 10 + 50
    assert not any(1.0 <= t < 2.0 for t in times)
    assert min(t for t in times if t >= 2.0) == pytest.approx(2.0)


def test_options_choose_the_plan() -> None:
    assert RatePlan.from_options(RunOptions(call="a.B.C", host="h:1")) is None
    assert RatePlan.from_options(RunOptions(rps=300)) == RatePlan("const", rps=300)
    line = RatePlan.from_options(RunOptions(load_schedule="line", load_start=5, load_step=2))
    assert line is not None and line.step_duration == 1.0 and line.rate_at(3.5) == 11


@pytest.mark.parametrize(("amount", "parts"), [(10, 3), (2, 4), (0, 2), (2000, 7)])
def test_split_is_even_and_complete(amount: int, parts: int) -> None:
    shares = split(amount, parts)
    assert sum(shares) == amount and max(shares) - min(shares) <= 1


def test_split_weighted_is_proportional_and_complete() -> None:
    assert split_weighted(100, [1, 1, 2]) == [25, 25, 50]
    shares = split_weighted(10, [1, 1, 1])
    assert sum(shares) == 10 and sorted(shares) == [3, 3, 4]


def test_closed_loop_work_is_split_over_processes() -> None:
    options = RunOptions(call="a.B.C", host="h:1", concurrency=5, connections=1, total=101)
    shares = plan_processes(options, 2)
    assert [s.concurrency for s in shares] == [3, 2]
    assert [s.connections for s in shares] == [1, 1]
    assert sum(s.requests or 0 for s in shares) == 101
    assert [s.first_worker for s in shares] == [0, 3]


def test_open_loop_processes_have_no_budget_and_never_more_processes_than_workers() -> None:
    shares = plan_processes(RunOptions(call="a.B.C", host="h:1", concurrency=1, rps=10), 4)
    assert len(shares) == 1 and shares[0].requests is None
