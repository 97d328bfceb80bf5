"""Load drivers, ghz configs, scenarios and dated results for Farebox (`python -m benchmarks`)."""
