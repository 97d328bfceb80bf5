"""Dev tokens minted by the CLI verify against the JWKS the local stack trusts."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from common.errors import Unauthenticated
from common.jwt_auth import JwtVerifier
from common.policy import Role
from common.security_settings import JwtSettings
from common.settings import Env
from farebox_cli.tokens import ensure_dev_key, jwks_path, jwt_environment, mint_token


def verifier_for(data_dir: Path) -> JwtVerifier:
    verifier = JwtVerifier.from_settings(JwtSettings.from_env(Env(jwt_environment(data_dir))))
    assert verifier is not None
    return verifier


async def test_a_minted_token_verifies_with_the_dev_jwks(tmp_path: Path) -> None:
    token = mint_token("operator", "op-7", "acme", data_dir=tmp_path)
    principal = await verifier_for(tmp_path).verify(token)
    assert (principal.subject, principal.roles, principal.tenant) == ("op-7", {Role.ROLE_OPERATOR}, "acme")
    assert stat.S_IMODE((tmp_path / "jwt" / "signing-key.pem").stat().st_mode) == 0o600
    assert "d" not in json.loads(jwks_path(tmp_path).read_text())["keys"][0]


async def test_the_key_is_kept_across_runs_and_tokens_expire(tmp_path: Path) -> None:
    assert ensure_dev_key(tmp_path).kid == ensure_dev_key(tmp_path).kid
    old = mint_token(["traveller"], "t-1", data_dir=tmp_path, now=datetime.now(UTC) - timedelta(hours=2))
    with pytest.raises(Unauthenticated) as caught:
        await verifier_for(tmp_path).verify(old)
    assert caught.value.reason == "TOKEN_EXPIRED"


def test_unknown_roles_and_tenantless_operators_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        mint_token("service", "booking", data_dir=tmp_path)
    with pytest.raises(ValueError, match="tenant"):
        mint_token("operator", "op-1", data_dir=tmp_path)


def farebox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "farebox_cli", *args], capture_output=True, text=True, check=False
    )


async def test_the_cli_prints_a_token_the_stack_trusts(tmp_path: Path) -> None:
    done = farebox(
        "token", "--role", "traveller", "--role", "admin", "--sub", "ana", "--data-dir", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    principal = await verifier_for(tmp_path).verify(done.stdout.strip())
    assert principal.subject == "ana" and principal.roles == {Role.ROLE_TRAVELLER, Role.ROLE_ADMIN}


def test_the_cli_refuses_an_operator_token_without_tenant(tmp_path: Path) -> None:
    done = farebox("token", "--role", "operator", "--sub", "op", "--data-dir", str(tmp_path))
    assert done.returncode == 2 and "tenant" in done.stderr and done.stdout == ""
