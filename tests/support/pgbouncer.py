"""A real PgBouncer in transaction pooling mode in front of the run's PostgreSQL server.

Debian's `pgbouncer` package provides the binary (ENVDESK_TEST_PGBOUNCER names another). Each
pytest process starts its own on a free port, with its configuration, log and pid file in a
temporary folder; PgBouncer refuses to run as root, so under root it runs as the `postgres`
system user (`-u`). A run without the binary fails the tests that need it, loudly."""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

SYSTEM_USER = "postgres"


@dataclass
class PgBouncer:
    url: str            # postgresql://user@127.0.0.1:port, without a database, like servers.Server
    process: subprocess.Popen[bytes]
    folder: Path
    pool_size: int

    def log(self) -> str:
        return (self.folder / "pgbouncer.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # immediate shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def binary() -> str:
    found = os.environ.get("ENVDESK_TEST_PGBOUNCER") or shutil.which("pgbouncer") \
        or next((p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if Path(p).exists()), None)
    if not found:
        raise RuntimeError("the pgbouncer program is not installed (Debian: apt-get install pgbouncer)")
    return found


def config(server_url: str, port: int, folder: Path, pool_size: int) -> str:
    """pgbouncer.ini: every database of the server, transaction pooling, trust authentication."""
    server = urlsplit(server_url)
    return "\n".join([
        "[databases]",
        f"* = host={server.hostname} port={server.port or 5432} user={server.username or 'postgres'}",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1", f"listen_port = {port}", "unix_socket_dir =",
        "auth_type = trust", f"auth_file = {folder / 'userlist.txt'}",
        "pool_mode = transaction", f"default_pool_size = {pool_size}", "max_client_conn = 1000",
        # The test PostgreSQL is shared: give idle server connections back within seconds.
        "server_idle_timeout = 5",
        "server_reset_query =", "ignore_startup_parameters = extra_float_digits,options",
        f"logfile = {folder / 'pgbouncer.log'}", f"pidfile = {folder / 'pgbouncer.pid'}",
        f"admin_users = {server.username or 'postgres'}", "",
    ])


def start(server_url: str, *, pool_size: int = 3, port: int) -> PgBouncer:
    """PgBouncer on 127.0.0.1:port in front of ``server_url``; raises when it does not answer."""
    program = binary()
    folder = Path(tempfile.mkdtemp(prefix="envdesk-pgbouncer-"))
    user = urlsplit(server_url).username or "postgres"
    (folder / "userlist.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text(config(server_url, port, folder, pool_size))
    argv = [program, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SYSTEM_USER)
        for path in (folder, *folder.iterdir()):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        argv[1:1] = ["-u", SYSTEM_USER]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT, start_new_session=True)
    bouncer = PgBouncer(f"postgresql://{user}@127.0.0.1:{port}", process, folder, pool_size)
    _wait_until_it_answers(bouncer)
    return bouncer


def _wait_until_it_answers(bouncer: PgBouncer) -> None:
    import psycopg

    deadline = time.monotonic() + 20
    while True:
        try:
            psycopg.connect(f"{bouncer.url}/postgres", connect_timeout=2,
                            prepare_threshold=None).close()
            return
        except psycopg.Error as exc:
            if bouncer.process.poll() is not None or time.monotonic() > deadline:
                log = bouncer.log() if (bouncer.folder / "pgbouncer.log").exists() else ""
                bouncer.stop()
                raise RuntimeError(f"pgbouncer did not answer: {exc}\n{log}") from exc
            time.sleep(0.05)
