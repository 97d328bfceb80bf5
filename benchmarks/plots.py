"""A scenario's picture: latency over time (p50, p99, requests/s) above the latency histogram."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from benchmarks.scenarios.measure import Measurement, timeline


def draw(title: str, measurements: Sequence[Measurement], path: Path, bucket_seconds: float) -> None:
    """Writes a PNG: the runs one after another on the time axis, then their latency histograms."""
    # matplotlib is a development dependency, needed only to draw: the driver runs without it.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, (over_time, spread) = plt.subplots(2, 1, figsize=(11, 8), constrained_layout=True)
    rate_axis = over_time.twinx()
    offset = 0.0
    for index, measurement in enumerate(measurements):
        points = timeline(measurement.run.samples, bucket_seconds)
        if not points:
            continue
        color = f"C{index % 10}"
        times = [offset + point["t"] for point in points]
        over_time.plot(times, [p["p99Ms"] for p in points], color=color, label=f"{measurement.label}: p99")
        over_time.plot(times, [p["p50Ms"] for p in points], color=color, linestyle="--", label="p50")
        rate_axis.plot(times, [p["requests"] / bucket_seconds for p in points], color=color, alpha=0.25)
        offset = times[-1] + bucket_seconds
    over_time.set_yscale("log")
    over_time.set_xlabel("seconds (runs one after another)")
    over_time.set_ylabel("latency, ms (log)")
    rate_axis.set_ylabel("requests/s (faint)")
    over_time.legend(fontsize="small", loc="upper left")
    over_time.set_title(f"{title}: latency over time")
    for index, measurement in enumerate(measurements):
        latencies = np.asarray(measurement.run.samples.latency_ns, dtype=float) / 1e6
        if latencies.size:
            low, high = max(latencies.min(), 0.01), max(latencies.max(), 0.02)
            bins = np.logspace(np.log10(low), np.log10(high), 60)
            spread.hist(latencies, bins=bins, alpha=0.5, color=f"C{index % 10}", label=measurement.label)
    spread.set_xscale("log")
    spread.set_xlabel("latency, ms (log)")
    spread.set_ylabel("calls")
    spread.legend(fontsize="small")
    spread.set_title("latency histogram")
    figure.savefig(path, dpi=90)
    plt.close(figure)
