"""Fixtures: start emulator / plain moto processes on free ports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

EMULATOR_DIR = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """Bind port 0 to find a free TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running server process (ours or plain moto) with client helpers."""

    def __init__(self, args: list[str], port: int, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"ironbark-test-server-{port}.log"
        self._log = open(self.log_path, "wb")
        penv = dict(os.environ)
        penv["PYTHONPATH"] = str(EMULATOR_DIR) + os.pathsep + penv.get("PYTHONPATH", "")
        penv.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)
        penv.update(env or {})
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=penv)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")

    def client(self, service: str, retries: dict[str, Any] | None = None, **kw: Any) -> Any:
        """A boto3 client pointed at this server."""
        cfg = Config(retries=retries or {"mode": "standard", "total_max_attempts": 1},
                     connect_timeout=5, read_timeout=60)
        return boto3.client(service, endpoint_url=self.url, region_name=kw.pop("region_name", "us-east-1"),
                            aws_access_key_id="test", aws_secret_access_key="test", config=cfg, **kw)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call a /_ironbark control endpoint."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def reset(self) -> None:
        """Reset moto state (and our tables) and the request log."""
        req = urllib.request.Request(self.url + "/moto-api/reset", data=b"", method="POST")
        urllib.request.urlopen(req, timeout=30).read()

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        if self.proc.returncode == 0:
            self.log_path.unlink(missing_ok=True)  # keep the log only when the server failed


def start_emulator(time_scale: str = "0.01", extra: list[str] | None = None) -> Server:
    """Start ``python -m ironbark_emulator`` on a free port."""
    port = free_port()
    return Server([sys.executable, "-m", "ironbark_emulator", "--host", "127.0.0.1", "--port", str(port),
                   "--time-scale", time_scale] + (extra or []), port)


@pytest.fixture(scope="session")
def emulator() -> Iterator[Server]:
    """Our emulator at time scale 0.01 (shared; tests reset what they need)."""
    srv = start_emulator("0.01")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def plain_moto() -> Iterator[Server]:
    """Unpatched moto 5.2.5 server mode, to show each bug exists there."""
    port = free_port()
    srv = Server([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port)
    yield srv
    srv.stop()


@pytest.fixture()
def emu(emulator: Server) -> Iterator[Server]:
    """The shared emulator with a fresh state, no faults, time scale 0.01."""
    emulator.reset()
    emulator.control("DELETE", "/_ironbark/faults")
    emulator.control("POST", "/_ironbark/time-scale", {"time_scale": 0.01})
    emulator.control("POST", "/_ironbark/log/reset")
    yield emulator


@pytest.fixture()
def moto_srv(plain_moto: Server) -> Iterator[Server]:
    """Plain moto with a fresh state."""
    plain_moto.reset()
    yield plain_moto


def make_network(ec2: Any) -> dict[str, str]:
    """VPC + subnet + IGW + EIP for NAT/endpoint tests."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    eip2 = ec2.allocate_address(Domain="vpc")["AllocationId"]
    return {"vpc": vpc, "subnet": subnet, "eip": eip, "eip2": eip2}
