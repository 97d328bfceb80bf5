"""schemathesis against /openapi.json with its default checks: no 5xx from the translator, and
every response conforms to the spec (status, content type, headers, schema)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.gateway.conftest import StartGateway
from tests.integration.gateway.fakes import TOKEN, FakeBackends, start_fake_backends

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
MAX_EXAMPLES = "20"
SEED = "20261123"


@pytest.fixture
async def finite_backends() -> AsyncIterator[FakeBackends]:
    """Fakes whose seat-map watch ends after the snapshot, so every streamed response completes."""
    fakes = await start_fake_backends(watch_follows=False)
    yield fakes
    await fakes.stop()


@pytest.mark.slow
async def test_schemathesis_finds_nothing(
    finite_backends: FakeBackends, start_gateway: StartGateway, tmp_path: Path
) -> None:
    gateway = await start_gateway(**finite_backends.targets)
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "run",
        f"{gateway}/openapi.json",
        "--phases=examples,coverage,fuzzing",
        f"--max-examples={MAX_EXAMPLES}",
        f"--seed={SEED}",
        "--workers=1",
        "--request-timeout=10",
        "--no-color",
        f"--header=Authorization: Bearer {TOKEN}",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    report = output.decode()
    assert process.returncode == 0, report
    assert "Tested: 10" in report
    assert (tmp_path / ".hypothesis").is_dir()
