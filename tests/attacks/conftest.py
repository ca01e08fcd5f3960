"""An in-process HTTP server over a SQLite ledger with the test world and one contract."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.config import Settings
from server.app import create_app
from tests.attacks.support import LOG_KEY, STREAM, Target
from tests.factories import World, contract_body, make_world


@pytest.fixture
def world(sqlite_url: str) -> Iterator[World]:
    w = make_world(sqlite_url)
    w.post(w.keys["buyer"], "contract.signed", STREAM, contract_body(STREAM.split("/")[1]))
    yield w
    w.ledger.close()


@pytest.fixture
async def target(world: World, aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[Target]:
    settings = Settings(data_dir=tmp_path, checkpoint_interval=0)
    client = await aiohttp_client(create_app(settings, ledger=world.ledger, log_key=LOG_KEY))
    yield Target(world, client)
