"""The contract checks fail when they should: lint, format, breaking changes, stale gen/."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BUF = str(Path(sys.executable).parent / "buf")
SEAT_SERVICE = Path("proto/farebox/seat/v1/seat_inventory_service.proto")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding a copy of the contracts, the generated code and the check scripts."""
    for item in ("proto", "gen", "scripts", "buf.yaml"):
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, tmp_path / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / item)
    for command in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"],
    ):
        subprocess.run(command, cwd=tmp_path, check=True)
    return tmp_path


def _commit(repo: Path) -> None:
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "change"], cwd=repo, check=True
    )


def test_the_contracts_pass_every_check(repo: Path) -> None:
    assert _run(BUF, "lint", cwd=repo).returncode == 0
    assert _run(BUF, "format", "--diff", "--exit-code", "--path", "proto/farebox", cwd=repo).returncode == 0
    assert _run("scripts/check_breaking.sh", BUF, cwd=repo).returncode == 0


def test_removing_an_rpc_is_a_breaking_change(repo: Path) -> None:
    path = repo / SEAT_SERVICE
    text = path.read_text()
    start = text.index("  // ReleaseSeats returns")
    end = text.index("}\n\n// CreateTripRequest")
    path.write_text(text[:start].rstrip() + "\n" + text[end:])
    _commit(repo)
    result = _run("scripts/check_breaking.sh", BUF, cwd=repo)
    assert result.returncode != 0
    assert "ReleaseSeats" in result.stdout + result.stderr


def test_renumbering_a_field_is_a_breaking_change(repo: Path) -> None:
    path = repo / SEAT_SERVICE
    path.write_text(path.read_text().replace("string holder_id = 5;", "string holder_id = 15;"))
    _commit(repo)
    assert _run("scripts/check_breaking.sh", BUF, cwd=repo).returncode != 0


def test_an_uncommented_message_fails_lint(repo: Path) -> None:
    path = repo / SEAT_SERVICE
    path.write_text(path.read_text() + "\nmessage Undocumented {\n  string x = 1;\n}\n")
    result = _run(BUF, "lint", cwd=repo)
    assert result.returncode != 0
    assert "Undocumented" in result.stdout


def test_misformatted_proto_fails_the_format_check(repo: Path) -> None:
    path = repo / SEAT_SERVICE
    path.write_text(path.read_text().replace("  string hold_id = 1;", "string    hold_id   =   1;"))
    assert _run(BUF, "format", "--diff", "--exit-code", "--path", "proto/farebox", cwd=repo).returncode != 0


def test_stale_generated_code_is_detected(repo: Path) -> None:
    env_python = sys.executable
    fresh = subprocess.run(
        ["scripts/check_generated.sh"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={"PYTHON": env_python, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert fresh.returncode == 0, fresh.stderr
    path = repo / SEAT_SERVICE
    path.write_text(
        path.read_text().replace(
            "  string request_id = 7;\n}", "  string request_id = 7;\n  // A note.\n  string note = 8;\n}"
        )
    )
    stale = subprocess.run(
        ["scripts/check_generated.sh"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={"PYTHON": env_python, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert stale.returncode != 0
    assert "stale" in stale.stderr
