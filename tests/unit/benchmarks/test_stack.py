"""How the benchmark stack runs services on the platform and how its clients reach them."""

import json
import subprocess
import sys
from pathlib import Path

import grpc
import jwt
import pytest

from benchmarks.options import RunOptions
from benchmarks.scenarios.measure import Target
from benchmarks.stack import ClientAccess, ServiceProcess, Stack, StackError, wait_serving
from farebox_cli.tokens import DEV_AUDIENCE, DEV_ISSUER


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    return Stack(tmp_path_factory.mktemp("bench-stack"))


def test_services_run_with_their_certificate_the_dev_token_key_and_their_own_ports(stack: Stack) -> None:
    env = stack.service_environment("seat")
    assert "FAREBOX_INSECURE_DEV" not in env
    assert env["FAREBOX_TLS_CERT"] == str(stack.workdir / "certs" / "seat.pem")
    assert Path(env["FAREBOX_TLS_KEY"]).exists() and Path(env["FAREBOX_TLS_CA"]).exists()
    assert json.loads(Path(env["FAREBOX_JWKS_FILE"]).read_text())["keys"]
    ports = {env[f"SEAT_{name}"] for name in ("PORT", "INTERNAL_PORT", "HEALTH_PORT")}
    assert len(ports) == 3 and "0" not in ports and env["SEAT_HOST"] == "127.0.0.1"
    assert env["FAREBOX_RATE_LIMIT_BROWSE_PER_MINUTE"] == "0"


def test_public_access_brings_a_bearer_token_the_services_trust(stack: Stack) -> None:
    access = stack.public_access()
    assert access.cacert and not access.cert and not access.key
    scheme, token = access.metadata["authorization"].split(" ", 1)
    keys = json.loads((stack.workdir / "jwt" / "jwks.json").read_text())["keys"]
    claims = jwt.decode(
        token, jwt.PyJWK(keys[0]).key, algorithms=["ES256"], audience=DEV_AUDIENCE, issuer=DEV_ISSUER
    )
    assert scheme == "Bearer" and set(claims["roles"]) >= {"admin", "traveller"}


def test_internal_access_presents_the_booking_certificate_and_no_token(stack: Stack) -> None:
    access = stack.internal_access()
    assert access.cert.endswith("booking.pem") and access.key.endswith("booking-key.pem")
    assert not access.metadata


def test_access_sets_the_driver_tls_options_and_keeps_the_calls_own_metadata() -> None:
    access = ClientAccess(cacert="ca.pem", cert="c.pem", key="k.pem", metadata={"authorization": "Bearer t"})
    options = access.apply(RunOptions(metadata={"x-request-id": "{{.UUID}}"}), "127.0.0.1:1")
    assert (options.host, options.insecure, options.cacert, options.cert, options.key) == (
        "127.0.0.1:1",
        False,
        "ca.pem",
        "c.pem",
        "k.pem",
    )
    assert options.metadata == {"authorization": "Bearer t", "x-request-id": "{{.UUID}}"}


def test_a_target_without_access_is_plaintext() -> None:
    options = Target("127.0.0.1:2", {}).options(RunOptions(cacert="stale.pem"))
    assert options.insecure and options.host == "127.0.0.1:2" and options.metadata is None


def test_the_echo_server_mtls_port_wants_a_client_certificate(stack: Stack) -> None:
    echo = stack.start_echo()
    try:
        with stack.internal_access().channel(echo.internal_address) as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
        without = ClientAccess(cacert=stack.internal_access().cacert)
        with without.channel(echo.internal_address) as channel:
            echo_call = channel.unary_unary("/farebox.bench.v1.EchoService/Echo")
            with pytest.raises(grpc.RpcError) as refused:
                echo_call(b"", timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        with grpc.insecure_channel(echo.address) as channel:
            assert channel.unary_unary("/farebox.bench.v1.EchoService/Echo")(b"\n\x02hi", timeout=10) == (
                b"\n\x02hi"
            )
    finally:
        stack.close()


def test_a_service_that_dies_on_start_is_reported_with_the_cause_first(tmp_path: Path) -> None:
    log_path = tmp_path / "broken.log"
    with log_path.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-c", "print('starting'); raise ValueError('no such setting')"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    popen.wait(30)
    with pytest.raises(StackError) as failed:
        wait_serving(ServiceProcess("broken", "127.0.0.1:1", popen, log_path), timeout=30)
    assert str(failed.value).startswith("broken exited with 1: ValueError: no such setting\nstarting\n")
