"""The OpenAPI document matches the server: fuzzed requests never get a 5xx, and every
response conforms to the documented status codes, content types and schemas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from ledger.cli import initialise
from ledger.config import Settings
from server.openapi import openapi_document
from tests.e2e.served_process import ServerProcess, start_server
from tests.e2e.test_http_projections import worked_example
from tests.factories import contract_body, make_world


@schemathesis.serializer("application/msgpack")
def _msgpack(ctx: object, value: object) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return msgpack.packb(value, use_bin_type=True)


schema = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("fuzz")
    # Seed some real history so that proofs, streams and entries exist; then write
    # the key files (the log is already open, so init leaves it as it is).
    world = make_world(f"sqlite:///{(data / 'ledger.sqlite3').resolve()}")
    world.post(world.keys["buyer"], "contract.signed", "contract/HM-FUZZ", contract_body("HM-FUZZ"))
    worked_example(world)  # an overdue milestone with late interest, for the report rows
    world.ledger.close()
    settings = Settings(data_dir=data)
    world.write_operator_key(settings)
    initialise(settings, out=lambda _: None)
    proc = start_server(Path(data))
    yield proc
    proc.stop()


@schema.parametrize()
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_api_conforms(case: schemathesis.Case, server: ServerProcess) -> None:
    case.call_and_validate(
        base_url=server.base_url,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance],
    )
