"""A tiny server on the shared bootstrap whose one method sleeps, for graceful-shutdown tests, and how
a test starts it as a process of its own."""

import asyncio
import sys
from datetime import timedelta

import grpc

from common.server import ServiceHost, serve_until_signalled
from common.settings import Env, ServerSettings


async def wait(request: bytes, _context: grpc.aio.ServicerContext) -> bytes:
    await asyncio.sleep(int(request.decode()) / 1000)
    return b"done"


async def start() -> tuple[asyncio.subprocess.Process, int]:
    """This server in a process of its own; returns the process and its port."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.common.slow_server",
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    assert process.stderr is not None
    port = int((await asyncio.wait_for(process.stderr.readline(), 20)).decode())
    return process, port


async def main() -> None:
    host = ServiceHost.create(["test.Slow"])
    handler = grpc.method_handlers_generic_handler(
        "test.Slow", {"Wait": grpc.unary_unary_rpc_method_handler(wait)}
    )
    host.server.add_generic_rpc_handlers([handler])
    settings = ServerSettings.from_env(Env({"SLOW_SHUTDOWN_GRACE": "5s"}), "SLOW", default_port=0)
    port = await host.start("127.0.0.1:0")
    print(port, file=sys.stderr, flush=True)
    await serve_until_signalled(host, settings)
    assert settings.shutdown_grace == timedelta(seconds=5)


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
