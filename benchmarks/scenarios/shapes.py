"""Load shapes on HoldSeats, scaled to this machine by the hold's measured maximum throughput.

spike: 20% of the maximum, then five times that for 30 s, then back; latency per phase and how
long p99 takes to recover. soak: 50% of the maximum for 10 minutes (2 with --short); the service's
memory and p99 from the first window to the last. stress: open-loop steps from 25% of the maximum
up by 15% at a time until p99 passes 300 ms or errors pass 1%; the knee is the last step that held.
"""

from __future__ import annotations

from benchmarks.report import OK, percentile
from benchmarks.scenarios.context import Check, Context, ScenarioResult, fixed_rate, headline_figures
from benchmarks.scenarios.echo import baseline
from benchmarks.scenarios.hold_seats import TRIP_SEATS, capacity
from benchmarks.scenarios.measure import Measurement, measure
from benchmarks.scenarios.seat import HOLD_CALL, SeatService, hold_data, start_seat
from benchmarks.schedule import RatePlan

STEADY_SHARE = 0.2
SPIKE_FACTOR = 5
SPIKE_PHASES = (10.0, 30.0, 15.0)
RECOVERY_LIMIT_S = 10.0
SOAK_SHARE = 0.5
SOAK_WARMUP_SHARE = 0.1
SOAK_RSS_GROWTH_LIMIT = 0.10
SOAK_P99_DRIFT_LIMIT = 1.5
STRESS_START, STRESS_STEP, STRESS_STEPS, STRESS_STEP_SECONDS = 0.25, 0.15, 12, 5.0
KNEE_P99_MS, KNEE_ERRORS = 300.0, 0.01
ERROR_LIMIT = 0.01


def _service(ctx: Context, name: str) -> tuple[SeatService, str]:
    seat = start_seat(ctx, name)
    return seat, seat.create_trip(TRIP_SEATS)


def _window(measurement: Measurement, start: float, end: float) -> dict[str, float]:
    """Requests, error ratio, achieved rate and latency of the calls due in [start, end) seconds."""
    samples = measurement.run.samples
    chosen = [i for i in range(len(samples)) if start * 1e9 <= samples.due_ns[i] < end * 1e9]
    latencies = sorted(samples.latency_ns[i] for i in chosen)
    errors = sum(1 for i in chosen if samples.codes[i] != OK)
    return {
        "requests": len(chosen),
        "rps": round(len(chosen) / (end - start), 1) if end > start else 0.0,
        "errorRatio": round(errors / len(chosen), 4) if chosen else 0.0,
        "p50Ms": percentile(latencies, 50) / 1e6,
        "p99Ms": percentile(latencies, 99) / 1e6,
    }


def spike(ctx: Context) -> ScenarioResult:
    """Steady, 5x spike, steady; per-phase latency and the time p99 takes to recover."""
    echo = baseline(ctx)
    steady = STEADY_SHARE * capacity(ctx).rps
    seat, trip = _service(ctx, "spike")
    lengths = [ctx.seconds(s) for s in SPIKE_PHASES]
    plan = RatePlan.phased([(lengths[0], steady), (lengths[1], steady * SPIKE_FACTOR), (lengths[2], steady)])
    options = fixed_rate(HOLD_CALL, hold_data(trip, TRIP_SEATS), steady, sum(lengths))
    label = f"{steady:.0f} -> {steady * SPIKE_FACTOR:.0f} -> {steady:.0f} req/s"
    run = measure(label, options, seat.target, ctx.settings.template_environment, rate=plan)
    before = _window(run, 0, lengths[0])
    during = _window(run, lengths[0], lengths[0] + lengths[1])
    after = _window(run, lengths[0] + lengths[1], sum(lengths))
    spike_end = lengths[0] + lengths[1]
    calm = max(2 * before["p99Ms"], before["p99Ms"] + 5.0)
    recovery = None
    for second in range(int(spike_end), int(sum(lengths))):
        if _window(run, second, second + 1)["p99Ms"] <= calm:
            recovery = second - spike_end
            break
    summary = headline_figures(run, echo)
    summary["headline"] = (
        f"p99 {before['p99Ms']:.1f} ms steady, {during['p99Ms']:.1f} ms in the spike, "
        f"recovered in {'never' if recovery is None else f'{max(recovery, 0):.0f} s'}"
    )
    checks = [
        Check(
            "errors < 1% through the spike",
            run.error_ratio() < ERROR_LIMIT,
            f"{run.run.report['statusCodeDistribution']}",
        ),
        Check(
            f"p99 back under {calm:.1f} ms within {RECOVERY_LIMIT_S:.0f} s of the spike's end",
            recovery is not None and recovery <= RECOVERY_LIMIT_S,
            f"recovery after {recovery} s"
            if recovery is not None
            else "p99 did not recover before the run ended",
        ),
    ]
    return ScenarioResult(
        scenario="spike",
        summary=summary,
        measurements=[run],
        checks=checks,
        notes=[
            f"the spike offers {SPIKE_FACTOR * STEADY_SHARE:.0%} of the measured maximum; "
            f"{run.verdict()} saturated"
        ],
        figures={"phases": {"before": before, "spike": during, "after": after}, "recoverySeconds": recovery},
        plotted=[run],
    )


def soak(ctx: Context) -> ScenarioResult:
    """Half the maximum for the soak's length; memory and p99 drift from the first window to the last."""
    echo = baseline(ctx)
    rate = SOAK_SHARE * capacity(ctx).rps
    seat, trip = _service(ctx, "soak")
    options = fixed_rate(HOLD_CALL, hold_data(trip, TRIP_SEATS), rate, ctx.soak_seconds)
    run = measure(
        f"{rate:.0f} req/s for {ctx.soak_seconds / 60:.0f} min",
        options,
        seat.target,
        ctx.settings.template_environment,
    )
    window = max(10.0, ctx.soak_seconds / 10)
    first, last = _window(run, 0, window), _window(run, ctx.soak_seconds - window, ctx.soak_seconds)
    warm = [
        (at, resident["service"])
        for at, _, resident in run.usage.timeline
        if at >= SOAK_WARMUP_SHARE * ctx.soak_seconds
    ]
    rss_start = warm[0][1] if warm else 0
    rss_end = warm[-1][1] if warm else 0
    growth = (rss_end - rss_start) / rss_start if rss_start else 0.0
    drift = last["p99Ms"] / first["p99Ms"] if first["p99Ms"] else 0.0
    summary = headline_figures(run, echo)
    summary["headline"] = (
        f"service RSS {rss_start / 2**20:.0f} -> {rss_end / 2**20:.0f} MiB ({growth:+.1%}); "
        f"p99 {first['p99Ms']:.1f} -> {last['p99Ms']:.1f} ms ({drift:.2f}x)"
    )
    checks = [
        Check(
            f"service memory grows < {SOAK_RSS_GROWTH_LIMIT:.0%} after warm-up",
            growth < SOAK_RSS_GROWTH_LIMIT,
            f"{rss_start} -> {rss_end} bytes",
        ),
        Check(
            f"p99 drifts < {SOAK_P99_DRIFT_LIMIT}x from the first window to the last",
            drift < SOAK_P99_DRIFT_LIMIT,
            f"{first['p99Ms']:.2f} -> {last['p99Ms']:.2f} ms over {window:.0f} s windows",
        ),
        Check("errors < 1%", run.error_ratio() < ERROR_LIMIT, f"{run.run.report['statusCodeDistribution']}"),
    ]
    return ScenarioResult(
        scenario="soak",
        summary=summary,
        measurements=[run],
        checks=checks,
        notes=[f"{ctx.soak_seconds / 60:.0f}-minute soak at {SOAK_SHARE:.0%} of the measured maximum"],
        figures={
            "firstWindow": first,
            "lastWindow": last,
            "rssGrowth": round(growth, 4),
            "p99Drift": round(drift, 3),
        },
        plotted=[run],
    )


def stress(ctx: Context) -> ScenarioResult:
    """Open-loop steps up from 25% of the maximum until p99 > 300 ms or errors > 1%."""
    echo = baseline(ctx)
    top = capacity(ctx).rps
    seat, trip = _service(ctx, "stress")
    steps: list[Measurement] = []
    knee: Measurement | None = None
    broke: Measurement | None = None
    for step in range(STRESS_STEPS):
        offered = top * (STRESS_START + STRESS_STEP * step)
        seconds = ctx.seconds(STRESS_STEP_SECONDS)
        trip = trip if step == 0 else seat.create_trip(TRIP_SEATS)  # fresh seats for every step
        options = fixed_rate(HOLD_CALL, hold_data(trip, TRIP_SEATS), offered, seconds)
        found = measure(f"{offered:.0f} req/s", options, seat.target, ctx.settings.template_environment)
        found.extra["offeredRps"] = round(offered, 1)
        steps.append(found)
        if found.latency_ms(99) > KNEE_P99_MS or found.error_ratio() > KNEE_ERRORS:
            broke = found
            break
        knee = found
    main = knee or steps[0]
    summary = headline_figures(main, echo)
    summary["headline"] = (
        f"knee at {main.extra['offeredRps']:.0f} req/s offered ({main.rps:.0f} served, "
        f"p99 {main.latency_ms(99):.1f} ms)"
        + (
            f"; broke at {broke.extra['offeredRps']:.0f} (p99 {broke.latency_ms(99):.0f} ms)"
            if broke
            else "; never broke"
        )
    )
    checks = [
        Check(
            "a knee was found",
            knee is not None and broke is not None,
            "p99 or errors crossed the limit" if broke else "no step broke",
        ),
    ]
    return ScenarioResult(
        scenario="stress",
        summary=summary,
        measurements=steps,
        checks=checks,
        notes=[f"steps of {ctx.seconds(STRESS_STEP_SECONDS):.0f} s; at the knee: {main.verdict()} saturated"],
        figures={
            "steps": [
                {
                    "offeredRps": m.extra["offeredRps"],
                    "rps": round(m.rps, 1),
                    "p99Ms": m.latency_ms(99),
                    "errorRatio": round(m.error_ratio(), 4),
                    "verdict": m.verdict(),
                }
                for m in steps
            ],
            "kneeRps": main.extra["offeredRps"] if knee else None,
        },
        plotted=steps,
    )
