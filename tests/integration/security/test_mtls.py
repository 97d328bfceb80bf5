"""mTLS on an internal port: who gets through the handshake, and rotation without a restart."""

from __future__ import annotations

import grpc
import pytest
from structlog.testing import capture_logs

from common.policy import Role
from common.tls import ReloadingChannel, channel_credentials, server_credentials
from farebox_cli.certs import CertificateAuthority
from tests.integration.security.pki import ClientFiles, Pki, expired
from tests.integration.security.probe import LOCAL_POOL, call, probe_server, secure_channel


async def handshake_refused(port: int, files: ClientFiles) -> None:
    async with secure_channel(port, files) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(channel, "GetSeatMap")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_service_certificate_is_the_service_role(pki: Pki) -> None:
    async with probe_server(
        credentials=server_credentials(pki.server_settings, require_client_auth=True)
    ) as host:
        async with secure_channel(host.port, pki.client("booking")) as channel:
            echoed = await call(channel, "HoldSeats")
    assert echoed["x-subject"] == "service:booking"
    assert echoed["x-roles"] == str(Role.ROLE_SERVICE)


async def test_a_certificate_that_names_no_service_grants_nothing(pki: Pki) -> None:
    async with probe_server(
        credentials=server_credentials(pki.server_settings, require_client_auth=True)
    ) as host:
        async with secure_channel(host.port, pki.client("gateway")) as channel:
            assert (await call(channel, "GetSeatMap"))["x-subject"] == ""
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(channel, "HoldSeats")
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_no_client_certificate_is_refused(pki: Pki) -> None:
    async with probe_server(
        credentials=server_credentials(pki.server_settings, require_client_auth=True)
    ) as host:
        await handshake_refused(host.port, pki.client(None))


async def test_a_certificate_from_another_ca_is_refused(pki: Pki) -> None:
    other = CertificateAuthority.create("Farebox test CA")  # same name, different key
    async with probe_server(
        credentials=server_credentials(pki.server_settings, require_client_auth=True)
    ) as host:
        await handshake_refused(host.port, pki.client("booking", ca=other))


async def test_an_expired_client_certificate_is_refused(pki: Pki) -> None:
    async with probe_server(
        credentials=server_credentials(pki.server_settings, require_client_auth=True)
    ) as host:
        await handshake_refused(host.port, pki.client("booking", **expired()))


async def test_a_plaintext_client_is_refused(pki: Pki) -> None:
    async with probe_server(
        credentials=server_credentials(pki.server_settings, require_client_auth=True)
    ) as host:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}", options=LOCAL_POOL) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(channel, "GetSeatMap")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_public_port_needs_no_client_certificate(pki: Pki) -> None:
    async with probe_server(
        credentials=server_credentials(pki.server_settings, require_client_auth=False)
    ) as host:
        async with secure_channel(host.port, pki.client(None)) as channel:
            assert (await call(channel, "GetSeatMap"))["x-subject"] == ""
        # Without a client-certificate request, a presented certificate is never a service identity.
        async with secure_channel(host.port, pki.client("booking")) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(channel, "HoldSeats")
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_rotated_certificate_and_ca_are_used_without_a_restart(pki: Pki) -> None:
    async with probe_server(
        credentials=server_credentials(pki.server_settings, require_client_auth=True)
    ) as host:
        old_client = pki.client("booking")
        async with secure_channel(host.port, old_client) as channel:
            assert (await call(channel, "HoldSeats"))["x-subject"] == "service:booking"

        rotated_ca = CertificateAuthority.create("Farebox test CA 2")
        pki.install("seat", rotated_ca.issue("seat", dns_names=["localhost"]), ca=rotated_ca)
        issued = rotated_ca.issue("booking")
        new_client = ClientFiles(ca=rotated_ca.cert_pem, cert=issued.cert_pem, key=issued.key_pem)
        with capture_logs() as logs:
            async with secure_channel(host.port, new_client) as channel:
                assert (await call(channel, "HoldSeats"))["x-subject"] == "service:booking"
        # The old CA's client no longer gets in: the server now trusts and presents the new chain.
        await handshake_refused(host.port, old_client)
    assert any(log["event"] == "tls_certificate_reloaded" for log in logs)


async def test_a_half_written_rotation_keeps_the_current_certificate(pki: Pki) -> None:
    async with probe_server(
        credentials=server_credentials(pki.server_settings, require_client_auth=True)
    ) as host:
        mismatched = pki.ca.issue("seat", dns_names=["localhost"])
        (pki.folder / "seat.pem").write_bytes(mismatched.cert_pem)  # the key is not written yet
        with capture_logs() as logs:
            async with secure_channel(host.port, pki.client("booking")) as channel:
                assert (await call(channel, "HoldSeats"))["x-subject"] == "service:booking"
    assert [log["event"] for log in logs if log["event"].startswith("tls_")] == ["tls_reload_refused"]


async def test_a_client_channel_follows_its_rotated_certificate(pki: Pki) -> None:
    pki.install("booking", pki.ca.issue("booking"))
    credentials = server_credentials(pki.server_settings, require_client_auth=True)
    async with probe_server(
        credentials=credentials, service_identities=frozenset({"booking", "payment"})
    ) as host:
        reloading = ReloadingChannel(f"localhost:{host.port}", pki.settings("booking"))
        try:
            first = reloading.channel()
            assert (await call(first, "HoldSeats"))["x-subject"] == "service:booking"
            assert reloading.channel() is first
            pki.install("booking", pki.ca.issue("payment"))
            second = reloading.channel()
            assert second is not first
            assert (await call(second, "HoldSeats"))["x-subject"] == "service:payment"
        finally:
            await reloading.close()
        assert first.get_state() == grpc.ChannelConnectivity.SHUTDOWN


def test_plaintext_is_an_explicit_choice_and_warns(pki: Pki) -> None:
    from dataclasses import replace

    insecure = replace(pki.server_settings, ca=None, cert=None, key=None, insecure_dev=True)
    with capture_logs() as logs:
        assert server_credentials(insecure, require_client_auth=True) is None
    assert channel_credentials(insecure) is None
    assert [(log["event"], log["log_level"]) for log in logs] == [("plaintext_transport", "warning")]
