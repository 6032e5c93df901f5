"""A PostgreSQL server for the tests and the benchmark: the one in $LEADS_TEST_POSTGRES, or
a throwaway cluster (initdb in a temp folder, loopback only, trust auth) when Debian's
PostgreSQL binaries are installed. Each user of it gets a database of its own.

    python -m lead_assets_tests.postgres      # start one by hand: prints its URL, Ctrl-C stops it
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ENV = "LEADS_TEST_POSTGRES"          # postgresql://user@host:port/db of a server we may CREATE DATABASE on
BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def binaries() -> Path | None:
    return next((d for d in BIN_DIRS if (d / "initdb").exists() and (d / "pg_ctl").exists()), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str                          # the maintenance database's URL
    _stop: object = None

    def database(self, prefix: str = "t") -> str:
        """A new, empty database on this server; its URL."""
        import psycopg2
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        con = psycopg2.connect(self.url)
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            con.close()
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path="/" + name))

    def stop(self) -> None:
        if self._stop:
            self._stop()
            self._stop = None


def start_cluster() -> Server:
    """initdb + pg_ctl start on a free loopback port. PostgreSQL refuses to run as root, so
    as root the cluster runs as the `postgres` system user (Debian's package creates it)."""
    bindir = binaries()
    if bindir is None:
        raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
    root = Path(tempfile.mkdtemp(prefix="leads-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()

    def pg(*args: str) -> None:
        subprocess.run([*run_as, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=root)

    pg(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "leads", "-E", "UTF8", "--no-sync")
    # fsync off: a throwaway test cluster, lost with its folder anyway.
    pg(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60", "start",
       "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200")

    def stop() -> None:
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root)
        shutil.rmtree(root, ignore_errors=True)
    return Server(f"postgresql://leads@127.0.0.1:{port}/postgres", stop)


def server() -> Server | None:
    """$LEADS_TEST_POSTGRES's server, else a throwaway cluster, else None (no PostgreSQL here)."""
    if os.environ.get(ENV):
        return Server(os.environ[ENV])
    return start_cluster() if binaries() else None


if __name__ == "__main__":
    s = start_cluster()
    print(s.url, flush=True)
    try:
        import time
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        s.stop()
