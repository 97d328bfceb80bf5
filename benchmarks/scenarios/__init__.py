"""Benchmark scenarios: each starts what it measures, drives it, and returns figures and checks."""

# The scenarios in the order `all` runs them (soak last: it is the longest), then the other commands.
SCENARIOS = (
    "echo",
    "driver-vs-h2load",
    "hold-seats",
    "hold-seats-workers",
    "flash-sale",
    "spike",
    "stress",
    "steady-mix",
    "payment-pairs",
    "booking-flow",
    "gateway",
    "security-overhead",
    "observability-overhead",
    "soak",
)
# `all` runs every scenario but the soak (ten minutes on its own): `python -m benchmarks soak` runs it.
ALL = SCENARIOS[:-1]
COMMANDS = (*SCENARIOS, "all", "readme")
