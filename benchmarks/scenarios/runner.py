"""`python -m benchmarks <scenario> [--short]`, `all` (every scenario but the soak), `readme`.

Each scenario starts what it measures (private PostgreSQL and Redis, the services, the echo
server), writes `benchmarks/results/<scenario>-<date>.json` and `.png`, and stops everything; the
README table is rebuilt from the newest results afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Callable
from pathlib import Path

import structlog

from benchmarks import readme, results
from benchmarks.scenarios import (
    ALL,
    COMMANDS,
    SCENARIOS,
    booking_flow,
    echo,
    flash_sale,
    gateway,
    h2load_check,
    hold_seats,
    overheads,
    payment,
    shapes,
    steady_mix,
)
from benchmarks.scenarios.context import Context, ScenarioResult
from benchmarks.settings import BenchSettings
from benchmarks.stack import stack
from common.logs import configure_logging

log = structlog.get_logger()

README = Path(__file__).resolve().parents[1] / "README.md"
ALL_COMMAND = "python -m benchmarks all"
FULL_SOAK_MINUTES = 10.0
SHORT_SOAK_MINUTES = 2.0
RUNNERS: dict[str, Callable[[Context], ScenarioResult]] = {
    "echo": echo.run,
    "driver-vs-h2load": h2load_check.run,
    "hold-seats": hold_seats.run,
    "hold-seats-workers": hold_seats.run_workers,
    "flash-sale": flash_sale.run,
    "spike": shapes.spike,
    "stress": shapes.stress,
    "steady-mix": steady_mix.run,
    "payment-pairs": payment.run,
    "booking-flow": booking_flow.run,
    "gateway": gateway.run,
    "security-overhead": overheads.security,
    "observability-overhead": overheads.observability,
    "soak": shapes.soak,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--short", action="store_true", help="phases a third as long, a 2-minute soak")
    parser.add_argument("--soak-minutes", type=float, default=None, help="soak length (default 10, short 2)")
    parser.add_argument("--workers", type=int, default=2, help="service processes in hold-seats-workers")
    parser.add_argument(
        "--workdir", type=Path, help="keep stores and service logs here (default: a temporary dir)"
    )
    return parser


def main(argv: list[str]) -> int:
    """Runs the command; exits 1 when a scenario could not run at all."""
    args = _parser().parse_args(argv)
    configure_logging("info", service="bench")
    settings = BenchSettings.from_env()
    command = "python -m benchmarks " + " ".join(argv)
    if args.command == "readme":
        readme.regenerate(README, results.latest(settings.results_dir), SCENARIOS, ALL_COMMAND)
        return 0
    names = ALL if args.command == "all" else (args.command,)
    soak_minutes = args.soak_minutes or (SHORT_SOAK_MINUTES if args.short else FULL_SOAK_MINUTES)
    crashed = 0
    with contextlib.ExitStack() as cleanup:
        workdir = args.workdir or Path(
            cleanup.enter_context(tempfile.TemporaryDirectory(prefix="farebox-bench-"))
        )
        workdir.mkdir(parents=True, exist_ok=True)
        workdir.chmod(0o755)  # PostgreSQL runs as another OS user when we are root
        for name in names:
            log.info("scenario_started", scenario=name)
            try:
                # A stack of its own: the scenario's processes, pools and rows end with it.
                with stack((workdir / name).resolve()) as opened:
                    ctx = Context(opened, settings, args.short, soak_minutes * 60, args.workers)
                    result = RUNNERS[name](ctx)
            except Exception as error:
                log.exception("scenario_failed", scenario=name)
                result = ScenarioResult(name, summary={}, skipped=f"failed: {type(error).__name__}: {error}")
                crashed += 1
            path = results.write(result, settings.results_dir, command)
            passed = sum(1 for check in result.checks if check.ok)
            log.info(
                "scenario_finished",
                scenario=name,
                result=str(path),
                checks=f"{passed}/{len(result.checks)}",
                skipped=result.skipped or None,
                **{key: value for key, value in result.summary.items() if key != "headline"},
            )
    readme.regenerate(README, results.latest(settings.results_dir), SCENARIOS, ALL_COMMAND)
    return 1 if crashed else 0
