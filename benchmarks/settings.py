"""The benchmark kit's settings, read once from the environment.

FAREBOX_BENCH_RESULTS           where scenarios write their dated results (default benchmarks/results)
FAREBOX_BENCH_PAYMENT_TOKEN     the sandbox card token the steady-mix confirms bookings with

Templates in call data may read any environment variable with `{{env "NAME"}}` (as in ghz, through
sprig); the variables are captured here, once, when the settings are read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from common.settings import Env

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class BenchSettings:
    """Where results go, the sandbox card of the booking mix, and the template environment."""

    results_dir: Path
    payment_token: str
    template_environment: Mapping[str, str]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BenchSettings:
        """Reads FAREBOX_BENCH_* and captures the environment for templates."""
        source = dict(os.environ if environ is None else environ)
        env = Env(source)
        return cls(
            results_dir=Path(env.text("FAREBOX_BENCH_RESULTS", str(RESULTS_DIR))),
            payment_token=env.text("FAREBOX_BENCH_PAYMENT_TOKEN", "tok_success"),
            template_environment=source,
        )
