"""Fixtures for the web pages: an in-process site for the HTML handlers, and for the
browser tests a real ``ledger serve`` process holding the demo data plus a headless
Chromium (Debian's, never a downloaded one) driven by Playwright.

Without Chromium or the ``playwright`` package the browser tests skip and say why,
unless ``LEDGER_REQUIRE_BROWSER=1`` (as ``.ci/run`` sets): then they fail.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from ledger.config import Settings
from ledger.keys import SignerKey
from server.app import create_app
from tests.cli.conftest import cli, init_data_dir
from tests.e2e.served_process import ServerProcess, start_server
from tests.factories import World, make_world

CHROMIUM = os.environ.get("LEDGER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LOG_KEY = SignerKey.from_seed("hami.example/ledger", bytes(range(32)))
CLIENT_ENVIRONMENT = ("LEDGER_SERVER", "LEDGER_LOG_KEY", "LEDGER_DATA_DIR",
                      "LEDGER_DATABASE_URL", "LEDGER_PORT", "LEDGER_HOST")


# In-process site for the HTML handlers -------------------------------------------------
@dataclass
class Site:
    world: World
    client: TestClient[Any, Any]


@pytest.fixture
def site_world(sqlite_url: str) -> Iterator[World]:
    world = make_world(sqlite_url)
    yield world
    world.ledger.close()


@pytest.fixture
async def site(site_world: World, aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[Site]:
    """The application over ``site_world``. The ledger closes only after the client has
    stopped the application (fixtures tear down in reverse): its background loops use it."""
    app = create_app(Settings(data_dir=tmp_path, checkpoint_interval=0),
                     ledger=site_world.ledger, log_key=LOG_KEY)
    yield Site(site_world, await aiohttp_client(app))


# The browser ---------------------------------------------------------------------------
def browser_unavailable_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        return f"the playwright package is not importable ({error}); pip install -e '.[test]'"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set LEDGER_CHROMIUM)"
    return None


def require_browser() -> None:
    reason = browser_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("LEDGER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"LEDGER_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium on a fresh user-data-dir, for one module.

    Not for the session: Playwright's synchronous API keeps its event loop marked as
    running while it is open, and the asyncio tests of other modules need theirs.
    """
    require_browser()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 900}, locale="zh-CN",
            timezone_id="Asia/Shanghai", service_workers="block")
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            context.close()


# A real server with the demo data --------------------------------------------------------
@dataclass
class DemoServer:
    process: ServerProcess
    data_dir: Path

    @property
    def url(self) -> str:
        return self.process.base_url

    @property
    def documents(self) -> Path:
        return self.data_dir / "demo" / "documents"

    @property
    def log_key(self) -> SignerKey:
        return SignerKey.read(Settings(data_dir=self.data_dir).log_key_path)

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return bytes(response.read())

    def json(self, path: str) -> Any:
        return json.loads(self.get(path))

    def status(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    def checkpoint_size(self) -> int:
        return int(self.get("/v1/log/checkpoint").decode().split("\n")[1])


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """``ledger init``, ``ledger serve`` and ``ledger demo``; a checkpoint covers it all."""
    base = tmp_path_factory.mktemp("ui-demo")
    data_dir = base / "var"
    with pytest.MonkeyPatch.context() as patch:
        for name in CLIENT_ENVIRONMENT:
            patch.delenv(name, raising=False)
        patch.setenv("LEDGER_STATE_DIR", str(base / "state"))
        init_data_dir(data_dir)
        process = start_server(data_dir)
        try:
            loaded = cli("demo", "--data-dir", str(data_dir), "--server", process.base_url)
            assert loaded.code == 0, loaded.err
            server = DemoServer(process, data_dir)
            size = int(server.json("/healthz")["tree_size"])
            deadline = time.monotonic() + 15
            while server.checkpoint_size() < size:
                assert time.monotonic() < deadline, "no checkpoint covers the demo in time"
                time.sleep(0.05)
        except BaseException:
            process.stop()
            raise
    try:
        yield server
    finally:
        process.stop()


@dataclass
class Browsing:
    """A page of the session's Chromium, on the demo server; records what went wrong."""

    page: Any
    server: DemoServer
    errors: list[str] = field(default_factory=list)  # uncaught exceptions in the page
    console: list[str] = field(default_factory=list)  # console errors (a 404 logs one)
    elsewhere: list[str] = field(default_factory=list)

    def open(self, path: str, width: int = 1440) -> Any:
        self.page.set_viewport_size({"width": width, "height": 900})
        response = self.page.goto(self.server.url + path)
        assert response is not None and response.status == 200, path
        return response

    def screenshot(self, name: str, width: int) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}-{width}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def overflows(self) -> int:
        """How far the page is wider than the window (0: no sideways scrolling)."""
        return int(self.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"))


@pytest.fixture
def browsing(chromium: Any, demo_server: DemoServer) -> Iterator[Browsing]:
    page = chromium.new_page()
    seen = Browsing(page, demo_server)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.on("console", lambda message: seen.console.append(message.text)
            if message.type == "error" else None)

    def outside(request: Any) -> None:
        if not request.url.startswith((demo_server.url + "/", "data:")):
            seen.elsewhere.append(request.url)

    page.on("request", outside)
    page.goto(demo_server.url + "/ui/verify")
    page.evaluate("() => localStorage.clear()")
    try:
        yield seen
    finally:
        page.close()
    assert not seen.elsewhere, f"the page fetched from elsewhere: {seen.elsewhere}"
    assert not seen.errors, f"uncaught errors in the page: {seen.errors}"
