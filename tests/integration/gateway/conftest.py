"""Fixtures: the fake seat and booking servers, and the gateway in front of them on free ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from common.settings import Env
from gateway.server import GatewayHost, build_server
from gateway.settings import GatewaySettings
from tests.integration.gateway.fakes import FakeBackends, start_fake_backends
from tests.unit.gateway.protoc import farebox_descriptor_set

StartGateway = Callable[..., Awaitable[str]]


@pytest.fixture(scope="session")
def descriptor_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The contracts' descriptor set with comments, as `make gen` ships it."""
    return farebox_descriptor_set(tmp_path_factory.mktemp("descriptors") / "descriptors.binpb")


@pytest.fixture
async def backends() -> AsyncIterator[FakeBackends]:
    """Fresh fake seat and booking servers."""
    fakes = await start_fake_backends()
    yield fakes
    await fakes.stop()


@pytest.fixture
async def start_gateway(descriptor_set: Path) -> AsyncIterator[StartGateway]:
    """Starts gateways with the given environment (plaintext to the backends unless it names
    certificates) on free ports; returns their base URLs."""
    hosts: list[GatewayHost] = []

    async def start(**environ: str) -> str:
        plaintext = {} if "FAREBOX_TLS_CERT" in environ else {"FAREBOX_INSECURE_DEV": "true"}
        settings = GatewaySettings.from_env(
            Env({"GATEWAY_DESCRIPTOR_SET": str(descriptor_set), **plaintext, **environ})
        )
        host = build_server(settings)
        hosts.append(host)
        port = await host.start("127.0.0.1:0")
        return f"http://127.0.0.1:{port}"

    yield start
    for host in hosts:
        await host.stop()


@pytest.fixture
async def gateway(backends: FakeBackends, start_gateway: StartGateway) -> str:
    """The base URL of a gateway in front of the fake backends."""
    return await start_gateway(**backends.targets)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session."""
    async with aiohttp.ClientSession() as session:
        yield session
