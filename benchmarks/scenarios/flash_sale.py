"""Flash sale: 2,000 clients race for the 40 seats of one trip; exactly 40 holds may succeed.

Then the cost of a "no": the same rate of holds against the sold-out trip (every one rejected)
and against a trip with free seats (every one held), with the server CPU per request of each.
Rejections must cost no more than successes.
"""

from __future__ import annotations

from typing import Any

from benchmarks.options import RunOptions
from benchmarks.scenarios.context import Check, Context, ScenarioResult, fixed_rate, headline_figures, ratio
from benchmarks.scenarios.echo import baseline
from benchmarks.scenarios.measure import measure
from benchmarks.scenarios.seat import (
    HOLD_CALL,
    STOPS,
    WHOLE_ROUTE,
    hold_data,
    seat_expression,
    seat_states,
    start_seat,
)

CLIENTS = 2000
SEATS = 40
RACE_CONNECTIONS = 20
COST_RATE = 300.0
WIN_TTL = "120s"
SEAT_UNAVAILABLE = "SEAT_UNAVAILABLE"


def _race_data(trip_id: str) -> dict[str, Any]:
    """Every client wants the whole route; seat = RequestNumber mod 40, so 50 clients want each seat."""
    return {
        "trip_id": trip_id,
        "seat_numbers": [seat_expression(f"(mod .RequestNumber {SEATS})")],
        "from_stop": STOPS[0][0],
        "to_stop": STOPS[-1][0],
        "holder_id": "fan-{{.RequestNumber}}",
        "ttl": WIN_TTL,
        "request_id": "{{.UUID}}",
    }


def run(ctx: Context) -> ScenarioResult:
    """The race, the seat-map audit, then rejections against successes at the same rate."""
    echo = baseline(ctx)
    seat = start_seat(ctx, "flash-sale")
    env = ctx.settings.template_environment
    sale = seat.create_trip(SEATS)
    race_options = RunOptions(
        call=HOLD_CALL,
        data=_race_data(sale),
        concurrency=CLIENTS,
        total=CLIENTS,
        connections=RACE_CONNECTIONS,
        timeout=30.0,
    )
    race = measure(f"race: {CLIENTS} clients, {SEATS} seats", race_options, seat.target, env)
    states = seat_states(seat, sale)
    seconds = ctx.seconds(6)
    rejected_options = fixed_rate(HOLD_CALL, _race_data(sale), COST_RATE, seconds)
    rejected = measure("sold out: every hold rejected", rejected_options, seat.target, env)
    roomy = seat.create_trip(2000)
    roomy_data = hold_data(roomy, 2000, WIN_TTL, WHOLE_ROUTE)
    held_options = fixed_rate(HOLD_CALL, roomy_data, COST_RATE, seconds)
    held = measure("free seats: every hold succeeds", held_options, seat.target, env)

    wins = race.status_count("OK")
    losses = race.count - wins
    reasons = race.to_json()["reasons"]
    unavailable = reasons.get(SEAT_UNAVAILABLE, 0)
    cost_ratio = ratio(rejected.server_us_per_request, held.server_us_per_request) or 0.0
    checks = [
        Check(f"exactly {SEATS} holds succeed", wins == SEATS, f"{wins} of {race.count} succeeded"),
        Check(
            f"every other request is {SEAT_UNAVAILABLE}",
            losses == unavailable == race.status_count("Aborted"),
            f"{losses} refused: {race.run.report['statusCodeDistribution']}, reasons {reasons}",
        ),
        Check(
            f"the seat map shows {SEATS} seats held",
            states.get("SEAT_STATE_HELD", 0) == SEATS,
            f"seat map: {dict(states)}",
        ),
        Check(
            "a rejection costs no more server CPU than a success",
            cost_ratio <= 1.0,
            f"rejected {rejected.server_us_per_request:.0f} µs vs held {held.server_us_per_request:.0f} µs "
            f"per request ({cost_ratio:.2f}x); p99 {rejected.latency_ms(99):.1f} vs "
            f"{held.latency_ms(99):.1f} ms",
        ),
        Check("the sold-out trip refuses every hold", rejected.status_count("OK") == 0, _statuses(rejected)),
        Check("every hold on free seats succeeds", held.error_ratio() == 0, _statuses(held)),
    ]
    summary = headline_figures(race, echo)
    summary["headline"] = (
        f"{wins}/{race.count} won in {race.wall_seconds:.2f} s; refused p99 "
        f"{race.latency_ms(99, 'Aborted'):.0f} ms vs won p99 {race.latency_ms(99, 'OK'):.0f} ms; "
        f"a refusal costs {cost_ratio:.2f}x a hold"
    )
    return ScenarioResult(
        scenario="flash-sale",
        summary=summary,
        measurements=[race, rejected, held],
        checks=checks,
        notes=[f"the race: {race.verdict()} saturated; CPU per request compared at {COST_RATE:.0f} req/s"],
        figures={"seatMap": dict(states), "rejectionCostRatio": cost_ratio},
        plotted=[race, rejected, held],
    )


def _statuses(measurement: Any) -> str:
    return f"{measurement.label}: {measurement.run.report['statusCodeDistribution']}"
