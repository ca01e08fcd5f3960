from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from ledger.config import Settings
from ledger.keys import SignerKey
from server.app import create_app
from tests.factories import World, make_world

LOG_KEY = SignerKey.from_seed("hami.example/ledger", bytes(range(32)))


@dataclass
class Served:
    world: World
    client: TestClient[Any, Any]
    log_key: SignerKey


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    w = make_world(database_url)
    yield w
    w.ledger.close()


@pytest.fixture
async def served(world: World, aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[Served]:
    settings = Settings(data_dir=tmp_path, checkpoint_interval=0)
    app = create_app(settings, ledger=world.ledger, log_key=LOG_KEY)
    client = await aiohttp_client(app)
    yield Served(world, client, LOG_KEY)
