"""Fixtures for the command-line journeys: real ``ledger serve`` processes, the CLI in-process."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ledger.cli import main
from ledger.config import Settings
from ledger.keys import SignerKey
from tests.e2e.served_process import ServerProcess, free_port, start_server


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli(*args: str) -> CliResult:
    """Run ``ledger ARGS`` in this process; capture its exit code and output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse usage errors
            code = int(exit_.code or 0)
    return CliResult(code, out.getvalue(), err.getvalue())


@dataclass
class Served:
    """A data dir with a ``ledger serve`` process on it."""

    data_dir: Path
    port: int
    process: ServerProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir)

    @property
    def operator_key(self) -> Path:
        return self.settings.operator_key_path

    @property
    def log_vkey(self) -> str:
        return SignerKey.read(self.settings.log_key_path).verifier.vkey

    @property
    def database_url(self) -> str:
        return self.settings.resolved_database_url

    def start(self, database_url: str | None = None) -> None:
        self.process = start_server(self.data_dir, port=self.port, database_url=database_url)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def checkpoint_size(self) -> int:
        with urllib.request.urlopen(self.url + "/v1/log/checkpoint", timeout=5) as response:
            return int(response.read().decode().split("\n")[1])

    def wait_for_checkpoint(self, size: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self.checkpoint_size() < size:
            if time.monotonic() > deadline:
                raise AssertionError(f"no checkpoint of size {size} in time")
            time.sleep(0.05)

    def tree_size(self) -> int:
        with urllib.request.urlopen(self.url + "/healthz", timeout=5) as response:
            return int(json.loads(response.read())["tree_size"])

    def copy_to(self, other: Path) -> Served:
        shutil.copytree(self.data_dir, other)
        return Served(other, self.port)


def init_data_dir(data_dir: Path) -> None:
    result = cli("init", "--data-dir", str(data_dir))
    assert result.code == 0, result.err


@pytest.fixture(autouse=True)
def client_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test remembers checkpoints in its own state dir; no ambient configuration."""
    monkeypatch.setenv("LEDGER_STATE_DIR", str(tmp_path / "state"))
    for name in ("LEDGER_SERVER", "LEDGER_LOG_KEY", "LEDGER_DATA_DIR", "LEDGER_DATABASE_URL",
                 "LEDGER_PORT", "LEDGER_HOST"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A fresh ledger (``ledger init``) served on SQLite."""
    server = Served(tmp_path / "var", free_port())
    init_data_dir(server.data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def demo_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A ledger loaded with ``ledger demo`` and the treasury export (read-only for tests)."""
    server = Served(tmp_path_factory.mktemp("demo") / "var", free_port())
    init_data_dir(server.data_dir)
    server.start()
    try:
        loaded = cli("demo", "--data-dir", str(server.data_dir), "--server", server.url)
        assert loaded.code == 0, loaded.err
        demo = server.data_dir / "demo"
        with _state_dir(server.data_dir.parent / "state"):
            posted = cli("post", str(demo / "treasury-export.csv"), "--key",
                         str(demo / "keys" / "finance.key"), "--server", server.url,
                         "--receipts", str(demo / "receipts.jsonl"))
        assert posted.code == 0, posted.err
        server.wait_for_checkpoint(server.tree_size())
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def _state_dir(path: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEDGER_STATE_DIR", str(path))
        yield


class TamperingProxy:
    """An HTTP proxy in front of a real server that rewrites some responses.

    ``tamper(path, body) -> body`` sees every response body (path with its query); it
    plays a server that serves something other than what its log key signed.
    ``unavailable(path)`` true answers that path 503 with an HTML page, as a proxy in
    front of a server that is down would.
    """

    def __init__(self, upstream: str, tamper: Callable[[str, bytes], bytes],
                 unavailable: Callable[[str], bool] = lambda _path: False) -> None:
        self.upstream = upstream
        self.tamper = tamper
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward(None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                self._forward(self.rfile.read(length))

            def _forward(self, body: bytes | None) -> None:
                if unavailable(self.path):
                    page = b"<html><body>503 Service Temporarily Unavailable</body></html>"
                    self.send_response(503)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                request = urllib.request.Request(
                    proxy.upstream + self.path, data=body, method=self.command,
                    headers={k: v for k, v in self.headers.items()
                             if k.lower() in ("content-type", "accept")})
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        status, headers, data = (response.status, response.headers,
                                                 response.read())
                except urllib.error.HTTPError as error:
                    status, headers, data = error.code, error.headers, error.read()
                data = proxy.tamper(self.path, data)
                self.send_response(status)
                self.send_header("Content-Type", headers.get("Content-Type", "text/plain"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TamperingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
