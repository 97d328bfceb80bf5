"""Private, throw-away PostgreSQL and Redis servers for `make run` and the test session.

Each server listens on 127.0.0.1 on a free port and keeps its files in the given directory.
Durability is traded for speed (no fsync, no snapshots). As root, PostgreSQL runs as the
`postgres` OS user (or a `farebox` system user), because initdb and pg_ctl refuse root.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import structlog

log = structlog.get_logger()

TIMEOUT_S = 30
_PORT_TRIES = 3
_PORT_IN_USE = "Address already in use"
_INITDB_ARGS = "-A trust -U farebox --encoding UTF8 --locale C --no-sync".split()
_PG_SETTINGS = "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
_PG_SETTINGS += " -c full_page_writes=off -c max_connections=200"


@dataclass(frozen=True)
class EmbeddedServer:
    """A running local server: its URL and a fast, repeatable stop."""

    url: str
    _stop: Callable[[], None] = field(repr=False, compare=False)

    def stop(self) -> None:
        """Stop the server, dropping anything not yet on disk; a second call does nothing."""
        self._stop()

    def __enter__(self) -> EmbeddedServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _free_port() -> int:
    """A port nobody listens on right now; the caller retries if it is taken before use."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, offset: int = 0, lines: int = 20) -> str:
    """The last lines written to a log since offset."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _size(path: Path) -> int:
    """Bytes in a log so far, to show only what the next start writes."""
    return path.stat().st_size if path.exists() else 0


def _pg_bindir() -> Path:
    """The directory holding initdb and pg_ctl."""
    if configured := os.environ.get("FAREBOX_PG_BIN"):
        if not (Path(configured) / "initdb").exists():
            raise RuntimeError(f"FAREBOX_PG_BIN={configured} has no initdb in it")
        return Path(configured)
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if (Path(out.stdout.strip()) / "initdb").exists():
            return Path(out.stdout.strip())

    def version(initdb: Path) -> tuple[int, ...]:
        return tuple(int(p) if p.isdigit() else -1 for p in initdb.parents[1].name.split("."))

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=version)
    if not found:
        raise RuntimeError(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: "
            "apt-get install postgresql, or set FAREBOX_PG_BIN to their directory"
        )
    return found[-1].parent


def _pg_os_user() -> str | None:
    """The OS user to run initdb and pg_ctl as: None unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "farebox"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "farebox"]
    subprocess.run(cmd, check=True, capture_output=True)
    log.info("embedded_os_user_created", user="farebox")
    return "farebox"


def _chown_tree(root: Path, user: str) -> None:
    """Give root and everything under it to user; nothing outside root is touched."""
    entry = pwd.getpwnam(user)
    for path in [root, *root.rglob("*")]:
        if path.lstat().st_uid != entry.pw_uid:
            os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def _os_user_can(user: str, test_flag: str, path: Path) -> bool:
    """Whether `test <flag> path` succeeds as user (so ACLs and groups count)."""
    cmd = ["runuser", "-u", user, "--", "test", test_flag, str(path)]
    return subprocess.run(cmd, check=False).returncode == 0


def start_postgres(data_dir: Path) -> EmbeddedServer:
    """Start PostgreSQL on data_dir (initialised on first use) with a `farebox` database."""
    bindir, user = _pg_bindir(), _pg_os_user()
    data_dir = data_dir.resolve()
    pgdata, log_path = data_dir / "pgdata", data_dir / "postgres.log"
    data_dir.mkdir(parents=True, exist_ok=True)

    def pg(*args: str) -> subprocess.CompletedProcess[str]:
        prefix: Sequence[str] = ["runuser", "-u", user, "--"] if user else []
        cmd = [*prefix, str(bindir / args[0]), *args[1:]]
        return subprocess.run(cmd, cwd=data_dir, capture_output=True, text=True, check=False)

    if user:
        _chown_tree(data_dir, user)
        if not _os_user_can(user, "-w", data_dir):
            blocked = next(
                p for p in [*reversed(data_dir.parents), data_dir] if not _os_user_can(user, "-x", p)
            )
            raise RuntimeError(
                f"OS user {user} cannot reach {data_dir}: {blocked} is not searchable by it; "
                "pick a data dir whose parents are (pytest's 0700 tmp_path base is not)"
            )
    if not (pgdata / "PG_VERSION").exists():
        done = pg("initdb", "-D", str(pgdata), *_INITDB_ARGS)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed in {pgdata}:\n{done.stdout}{done.stderr}")
        log.info("embedded_postgres_initialised", data_dir=str(pgdata))
    elif pg("pg_ctl", "-D", str(pgdata), "status").returncode == 0:
        log.warning("embedded_postgres_left_running_stopping", data_dir=str(pgdata))
        pg("pg_ctl", "-D", str(pgdata), "-m", "fast", "-w", "stop")

    for attempt in range(1, _PORT_TRIES + 1):
        port, offset = _free_port(), _size(log_path)
        options = f"-p {port} -k {shlex.quote(str(data_dir))} {_PG_SETTINGS}"
        wait = ["-w", "-t", str(TIMEOUT_S)]
        started = pg("pg_ctl", "-D", str(pgdata), "-o", options, "-l", str(log_path), *wait, "start")
        if started.returncode == 0:
            break
        tail = _tail(log_path, offset)
        if _PORT_IN_USE not in tail or attempt == _PORT_TRIES:
            raise RuntimeError(f"PostgreSQL did not start on {pgdata}:\n{started.stderr}{tail}")
        log.warning("embedded_port_taken_retrying", server="postgres", port=port)

    with psycopg.connect(f"postgresql://farebox@127.0.0.1:{port}/postgres", autocommit=True) as conn:
        if conn.execute("select 1 from pg_database where datname = 'farebox'").fetchone() is None:
            conn.execute("create database farebox")

    def stop() -> None:
        stopped = pg("pg_ctl", "-D", str(pgdata), "-m", "fast", "-w", "stop")
        if stopped.returncode != 0 and pg("pg_ctl", "-D", str(pgdata), "status").returncode == 0:
            raise RuntimeError(f"PostgreSQL on {pgdata} did not stop:\n{stopped.stderr}")
        log.info("embedded_postgres_stopped", port=port)

    url = f"postgresql://farebox@127.0.0.1:{port}/farebox"
    log.info("embedded_postgres_started", url=url, data_dir=str(pgdata), os_user=user)
    return EmbeddedServer(url=url, _stop=stop)


def _redis_pings(port: int) -> bool:
    """Whether a Redis server on port answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _end(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server's process group, then kill it if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass


def start_redis(data_dir: Path) -> EmbeddedServer:
    """Start a Redis server without persistence, working in data_dir."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server not found on PATH: apt-get install redis-server")
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "redis.log"
    for attempt in range(1, _PORT_TRIES + 1):
        port, offset = _free_port(), _size(log_path)
        cmd = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        cmd += ["--dir", str(data_dir), "--daemonize", "no"]
        with log_path.open("ab") as out:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + TIMEOUT_S
        while proc.poll() is None and time.monotonic() < deadline and not _redis_pings(port):
            time.sleep(0.05)
        if proc.poll() is None and _redis_pings(port):
            break
        _end(proc)
        tail = _tail(log_path, offset)
        if _PORT_IN_USE not in tail or attempt == _PORT_TRIES:
            raise RuntimeError(f"redis-server did not answer PING within {TIMEOUT_S}s:\n{tail}")
        log.warning("embedded_port_taken_retrying", server="redis", port=port)

    def stop() -> None:
        _end(proc)
        log.info("embedded_redis_stopped", port=port)

    url = f"redis://127.0.0.1:{port}/0"
    log.info("embedded_redis_started", url=url, data_dir=str(data_dir), pid=proc.pid)
    return EmbeddedServer(url=url, _stop=stop)
