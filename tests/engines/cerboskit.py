"""A real Cerbos server for the tests: started on free ports, stopped after.

`scripts/cerbos.sh` fetches the binary (exported as `CERBOS_BINARY`, cached
under `.venv/cerbos/<version>/`). The server reads its policies from a disk
store (`cerbos_policies/` beside this file, copied to a temporary directory
so a test may change them).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
POLICIES = HERE / "cerbos_policies"
VERSION = "0.55.0"


def binary() -> str | None:
    """The Cerbos binary: `CERBOS_BINARY`, else the one scripts/cerbos.sh caches."""
    found = os.environ.get("CERBOS_BINARY")
    if found:
        return found
    cached = HERE.parents[1] / ".venv" / "cerbos" / VERSION / "cerbos"
    return str(cached) if cached.is_file() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CerbosServer:
    """One Cerbos process serving the policies of a temporary directory."""

    def __init__(self, policies: Path = POLICIES) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="cerbos-test-"))
        self.policies = self.home / "policies"
        shutil.copytree(policies, self.policies)
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def config(self) -> str:
        return "\n".join(
            [
                "server:",
                f'  httpListenAddr: "127.0.0.1:{self.http_port}"',
                f'  grpcListenAddr: "127.0.0.1:{self.grpc_port}"',
                "  requestLimits:",
                "    maxActionsPerResource: 50",
                "    maxResourcesPerRequest: 500",
                "storage:",
                "  driver: disk",
                "  disk:",
                f'    directory: "{self.policies}"',
                "    watchForChanges: false",
                "audit:",
                "  enabled: false",
                "telemetry:",
                "  disabled: true",
                "",
            ]
        )

    def start(self, timeout: float = 20.0) -> CerbosServer:
        executable = binary()
        if executable is None:
            raise RuntimeError("no Cerbos binary (run bash scripts/cerbos.sh)")
        config = self.home / "config.yaml"
        config.write_text(self.config())
        log = (self.home / "server.log").open("wb")
        self.process = subprocess.Popen(
            [executable, "server", f"--config={config}", "--log-level=warn"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Cerbos exited:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.grpc_port), 0.2):
                    pass
                with socket.create_connection(("127.0.0.1", self.http_port), 0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Cerbos did not start within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        """Stop the server (a test may already have stopped it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def log(self) -> str:
        path = self.home / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


def sync_client(server: CerbosServer) -> Any:
    from cerbos.sdk.grpc.client import CerbosClient

    return CerbosClient(server.address)


def async_client(server: CerbosServer) -> Any:
    from cerbos.sdk.grpc.client import AsyncCerbosClient

    return AsyncCerbosClient(server.address)
