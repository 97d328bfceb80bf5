"""Dated result files: one JSON and one PNG per scenario run, under benchmarks/results/."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import plots
from benchmarks.scenarios.context import ScenarioResult
from benchmarks.scenarios.measure import timeline

SOAK_BUCKET_SECONDS = 10.0


def machine_info() -> dict[str, Any]:
    """The machine the figures were measured on."""
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
            break
    return {
        "cpu": model,
        "cores": os.cpu_count() or 1,
        "memoryGiB": round(memory_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "grpcio": metadata.version("grpcio"),
    }


def bucket_seconds(result: ScenarioResult) -> float:
    """The width of a timeline point: 10 s for long runs, else 1 s."""
    return SOAK_BUCKET_SECONDS if result.scenario == "soak" else 1.0


def to_json(result: ScenarioResult, command: str, date: datetime, png_name: str) -> dict[str, Any]:
    """The result file's content."""
    width = bucket_seconds(result)
    measurements = []
    for measurement in result.measurements:
        entry = measurement.to_json()
        if measurement in result.plotted:
            entry["timeline"] = timeline(measurement.run.samples, width)
        measurements.append(entry)
    return {
        "scenario": result.scenario,
        "date": date.isoformat(timespec="seconds"),
        "command": command,
        "machine": machine_info(),
        "skipped": result.skipped or None,
        "summary": result.summary,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in result.checks],
        "notes": result.notes,
        "figures": result.figures,
        "png": png_name if result.plotted else None,
        "measurements": measurements,
    }


def write(result: ScenarioResult, results_dir: Path, command: str) -> Path:
    """Writes `<scenario>-<UTC date>.json` (and `.png` when there is something to draw)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    date = datetime.now(UTC)
    stem = f"{result.scenario}-{date.strftime('%Y%m%d-%H%M%S')}"
    png = results_dir / f"{stem}.png"
    if result.plotted:
        plots.draw(result.scenario, result.plotted, png, bucket_seconds(result))
    path = results_dir / f"{stem}.json"
    path.write_text(json.dumps(to_json(result, command, date, png.name), indent=2, ensure_ascii=False) + "\n")
    return path


def latest(results_dir: Path) -> dict[str, dict[str, Any]]:
    """The newest result of every scenario, by scenario name."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(results_dir.glob("*.json")):
        try:
            content = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(content, dict) and "scenario" in content:
            content["file"] = path.name
            previous = found.get(content["scenario"])
            if previous is None or content["date"] >= previous["date"]:
                found[content["scenario"]] = content
    return found
