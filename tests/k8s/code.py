"""Reads the project's Python sources, so tests can prove that a manifest names what the code does."""

from __future__ import annotations

import ast
import functools
import re

from tests.k8s.manifests import ROOT

PACKAGES = ("common", "seat_service", "payment_service", "booking_service", "gateway", "farebox_cli")
SERVICE_PREFIXES = ("SEAT", "PAYMENT", "BOOKING", "GATEWAY")
METRIC_MODULES = (
    "common/interceptors/metrics.py",
    "common/client_metrics.py",
    "common/domain_metrics.py",
)


@functools.cache
def source(*packages: str) -> str:
    """The text of every .py file in the packages (or of the named .py files), concatenated."""
    texts = []
    for package in packages:
        path = ROOT / package
        files = [path] if package.endswith(".py") else sorted(path.rglob("*.py"))
        texts += [file.read_text() for file in files if file.exists()]
    return "\n".join(texts)


@functools.cache
def imported_files(module: str) -> tuple[str, ...]:
    """The project's .py files a module runs: itself and everything it imports from PACKAGES,
    transitively (a package's `__init__.py` counts when it is imported)."""
    seen: dict[str, str] = {}
    pending = [module]
    while pending:
        name = pending.pop()
        path = _file_of(name)
        if name in seen or path is None:
            continue
        seen[name] = path
        for node in ast.walk(ast.parse((ROOT / path).read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                pending += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                pending += [alias.name for alias in node.names]
    return tuple(sorted(set(seen.values())))


def _file_of(module: str) -> str | None:
    if module.split(".")[0] not in PACKAGES:
        return None
    for candidate in (module.replace(".", "/") + ".py", module.replace(".", "/") + "/__init__.py"):
        if (ROOT / candidate).exists():
            return candidate
    return None


def reads_setting(name: str, *packages: str) -> bool:
    """Whether the packages read an environment variable: literally, as `f"{prefix}_REST"` for a
    service prefix, or as `f"HEAD_{key}"` with `"KEY"` among the keys."""
    text = source(*packages)
    if f'"{name}"' in text or f"'{name}'" in text:
        return True
    parts = name.split("_")
    for cut in range(1, len(parts)):
        head, tail = "_".join(parts[:cut]), "_".join(parts[cut:])
        if head in SERVICE_PREFIXES and re.search(r'f"\{\w+\}_' + re.escape(tail) + '"', text):
            return True
        if f'f"{head}_{{' in text and f'"{tail}"' in text:
            return True
    return False


def exports_metric(series: str) -> bool:
    """Whether the metric catalogs define a series (counters may be declared with or without _total)."""
    text = "\n".join((ROOT / module).read_text() for module in METRIC_MODULES if (ROOT / module).exists())
    names = {series}
    for suffix in ("_total", "_bucket", "_sum", "_count"):
        if series.endswith(suffix):
            names.add(series.removesuffix(suffix))
    return any(f'"{name}"' in text for name in names)


@functools.cache
def proto_services() -> frozenset[str]:
    """The full names of the services the contracts declare."""
    found = set()
    for path in (ROOT / "proto" / "farebox").rglob("*_service.proto"):
        text = path.read_text()
        package = re.search(r"^package ([\w.]+);", text, re.M)
        assert package is not None, path
        found |= {f"{package.group(1)}.{name}" for name in re.findall(r"^service (\w+)", text, re.M)}
    return frozenset(found)


def main_accepts(module: str, argument: str) -> bool:
    """Whether a package's __main__ dispatches on a command-line word."""
    main = ROOT / module / "__main__.py"
    return main.exists() and (f'"{argument}"' in main.read_text() or f"'{argument}'" in main.read_text())
