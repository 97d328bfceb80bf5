"""The baseline: a bare grpc.aio echo server, a generic handler with no generated code.

Its one method, `farebox.bench.v1.EchoService/Echo`, returns the request bytes unchanged. Server
reflection describes it from a descriptor built here (request and response are both a message with
one string field), so the driver, ghz and grpcurl call it the same way as any Farebox service.

`python -m benchmarks.echo_server --port 0` prints `port=<bound port>` once serving, then runs
until SIGTERM or SIGINT. With `--ca`, `--cert` and `--key` it also serves an mTLS port (a client
certificate from that CA required, as on a Farebox service's internal port) and prints
`port=<plaintext port> tls_port=<mTLS port>`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

import grpc
import uvloop
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection

PACKAGE = "farebox.bench.v1"
SERVICE = f"{PACKAGE}.EchoService"
METHOD_PATH = f"/{SERVICE}/Echo"
CALL = f"{SERVICE}.Echo"


def echo_descriptor_pool() -> descriptor_pool.DescriptorPool:
    """A pool holding the echo service's file: EchoRequest/EchoResponse {string payload = 1}."""
    field_proto = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="farebox/bench/v1/echo.proto", package=PACKAGE, syntax="proto3"
    )
    for name in ("EchoRequest", "EchoResponse"):
        message = file.message_type.add(name=name)
        message.field.add(
            name="payload",
            number=1,
            type=field_proto.TYPE_STRING,
            label=field_proto.LABEL_OPTIONAL,
            json_name="payload",
        )
    method = file.service.add(name="EchoService").method.add(name="Echo")
    method.input_type = f".{PACKAGE}.EchoRequest"
    method.output_type = f".{PACKAGE}.EchoResponse"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return pool


async def _echo(request: bytes, _context: grpc.aio.ServicerContext) -> bytes:
    return request


class _EchoHandler(grpc.GenericRpcHandler):  # type: ignore[misc]
    """Answers the echo method with its own request bytes; no deserialization."""

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if handler_call_details.method == METHOD_PATH:
            return grpc.unary_unary_rpc_method_handler(_echo)
        return None


def build_server() -> grpc.aio.Server:
    """The echo server with reflection, not yet bound."""
    server = grpc.aio.server()
    reflection.enable_server_reflection(
        [SERVICE, reflection.SERVICE_NAME], server, pool=echo_descriptor_pool()
    )
    server.add_generic_rpc_handlers((_EchoHandler(),))
    return server


def mtls_credentials(ca: Path, cert: Path, key: Path) -> grpc.ServerCredentials:
    """Server credentials that require a client certificate signed by `ca`."""
    return grpc.ssl_server_credentials(
        [(key.read_bytes(), cert.read_bytes())], root_certificates=ca.read_bytes(), require_client_auth=True
    )


async def serve(host: str, port: int, tls: grpc.ServerCredentials | None = None) -> None:
    """Serves until SIGTERM or SIGINT, after printing the bound ports."""
    server = build_server()
    bound = server.add_insecure_port(f"{host}:{port}")
    ports = f"port={bound}"
    if tls is not None:
        ports += f" tls_port={server.add_secure_port(f'{host}:0', tls)}"
    await server.start()
    print(ports, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(1.0)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.echo_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ca", type=Path, help="CA of the client certificates the mTLS port accepts")
    parser.add_argument("--cert", type=Path, help="the server certificate of the mTLS port")
    parser.add_argument("--key", type=Path, help="its private key")
    args = parser.parse_args(argv)
    files = (args.ca, args.cert, args.key)
    if any(files) and not all(files):
        parser.error("--ca, --cert and --key go together")
    uvloop.run(serve(args.host, args.port, mtls_credentials(*files) if all(files) else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
