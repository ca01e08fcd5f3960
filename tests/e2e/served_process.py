"""Run ``ledger serve`` as a real process on a free port, for fuzzing and fault tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    data_dir: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(data_dir: Path, *, database_url: str | None = None,
                 port: int | None = None, extra_env: dict[str, str] | None = None,
                 timeout: float = 30.0) -> ServerProcess:
    port = port or free_port()
    env = dict(os.environ)
    env.update({"LEDGER_DATA_DIR": str(data_dir), "LEDGER_PORT": str(port),
                "LEDGER_HOST": "127.0.0.1", "LEDGER_CHECKPOINT_INTERVAL": "0.2"})
    if database_url:
        env["LEDGER_DATABASE_URL"] = database_url
    env.update(extra_env or {})
    log = open(data_dir / f"serve-{port}.log", "ab")  # noqa: SIM115 - kept open by the child
    process = subprocess.Popen([sys.executable, "-m", "ledger.cli", "serve"], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    log.close()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ledger serve exited with {process.returncode}: "
                               + (data_dir / f"serve-{port}.log").read_text())
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return ServerProcess(process, base_url, data_dir)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("ledger serve did not come up in time")
