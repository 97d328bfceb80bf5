"""The figures block of benchmarks/README.md, regenerated from the newest result of each scenario."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

START = "<!-- results:start -->"
END = "<!-- results:end -->"


def _number(value: Any, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{suffix}"


def _one_line(text: str, limit: int = 200) -> str:
    """The first line and the last non-empty line of a message (an error's cause), for a table cell."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    short = lines[0] if len(lines) < 2 else f"{lines[0]} ... {lines[-1]}"
    return short.replace("|", "/")[:limit]


def _row(name: str, result: Mapping[str, Any]) -> str:
    summary = result.get("summary") or {}
    date = str(result.get("date", ""))[:16].replace("T", " ")
    if result.get("skipped"):
        return f"| {name} | {date} | skipped: {_one_line(str(result['skipped']))} |  |  |  |  |  |  |  |  |"
    checks = result.get("checks") or []
    passed = sum(1 for check in checks if check["ok"])
    verdict = "pass" if passed == len(checks) else "FAIL"
    cells = [
        name,
        date,
        _number(summary.get("rps"), 0),
        _number(summary.get("rpsVsEcho"), 2, "x"),
        _number(summary.get("p50Ms"), 2),
        _number(summary.get("p99Ms"), 2),
        _number(summary.get("serverUsPerRequest"), 0),
        _number(summary.get("cpuVsEcho"), 2, "x"),
        str(summary.get("verdict", "-")),
        f"{verdict} {passed}/{len(checks)}",
        str(summary.get("headline", "")).replace("|", "/"),
    ]
    return "| " + " | ".join(cells) + " |"


def _other_commands(latest: Mapping[str, Mapping[str, Any]], order: Sequence[str], command: str) -> str:
    """A sentence naming the scenarios whose newest result came from another command."""
    others = [
        f"{name} by `{latest[name]['command']}`"
        for name in order
        if name in latest and latest[name].get("command") not in (None, command)
    ]
    return f" Run on their own: {', '.join(others)}." if others else ""


def render(latest: Mapping[str, Mapping[str, Any]], order: Sequence[str], command: str) -> str:
    """The generated block: machine, command, table, failed checks and pictures."""
    if not latest:
        return f"{START}\nNo results yet: run `{command}`.\n{END}"
    newest = max(latest.values(), key=lambda result: str(result.get("date", "")))
    machine = newest.get("machine") or {}
    lines = [
        START,
        f"Latest figures, produced by `{command}` on {machine.get('cores', '?')} cores "
        f"({machine.get('cpu', 'unknown CPU')}), {machine.get('memoryGiB', '?')} GiB, "
        f"Linux {machine.get('kernel', '?')}, Python {machine.get('python', '?')}, "
        f"grpcio {machine.get('grpcio', '?')}. "
        "Req/s and p50/p99 are of the scenario's main run; CPU is server CPU time per request (service + "
        "Redis + PostgreSQL; the echo server alone for echo); *saturated* says which side ran out of CPU in "
        "that run." + _other_commands(latest, order, command),
        "",
        "| Scenario | Date (UTC) | Req/s | vs echo | p50 ms | p99 ms | Server CPU µs/req | vs echo "
        "| Saturated | Checks | Headline |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    lines += [_row(name, latest[name]) for name in order if name in latest]
    failed = [
        (name, check)
        for name in order
        if name in latest
        for check in latest[name].get("checks") or []
        if not check["ok"]
    ]
    if failed:
        lines += ["", "Failed checks:", ""]
        lines += [f"- **{name}**: {check['name']} - {check['detail']}" for name, check in failed]
    notes = [(name, note) for name in order if name in latest for note in latest[name].get("notes") or []]
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- **{name}**: {note}" for name, note in notes]
    lines += ["", "Pictures (latency over time above the latency histogram):", ""]
    for name in order:
        result = latest.get(name)
        if result and result.get("png"):
            lines += [
                f"**{name}** ([result]({'results/' + result['file']}))",
                "",
                f"![{name}](results/{result['png']})",
                "",
            ]
    lines.append(END)
    return "\n".join(lines)


def regenerate(
    readme: Path, latest: Mapping[str, Mapping[str, Any]], order: Sequence[str], command: str
) -> None:
    """Replaces the block between the markers (appends it when the markers are missing)."""
    text = readme.read_text() if readme.exists() else ""
    block = render(latest, order, command)
    if START in text and END in text:
        before, rest = text.split(START, 1)
        _, after = rest.split(END, 1)
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    readme.write_text(text)
