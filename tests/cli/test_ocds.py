"""``ledger export ocds``: release packages valid against the OCDS 1.1.5 schema, offline."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from ledger.ocds import amount, dumps
from tests.cli.conftest import Served, cli

SCHEMAS = Path(__file__).parent / "ocds_schema"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

formats = FormatChecker()


@formats.checks("date-time")
def _date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(RFC3339.match(value))


@formats.checks("uri")
def _uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlsplit(value).scheme)


def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


def validate_release_package(package: dict[str, Any]) -> None:
    """Raise unless ``package`` is a valid OCDS 1.1.5 release package (no network)."""
    package_schema = _schema("release-package-1.1.5.json")
    release_schema = _schema("release-1.1.5.json")
    registry = Registry().with_resources([
        (schema["id"], Resource.from_contents(schema, default_specification=DRAFT4))
        for schema in (package_schema, release_schema)])
    validator = Draft4Validator(package_schema, registry=registry, format_checker=formats)
    errors = sorted(validator.iter_errors(package), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def test_demo_export_validates_against_the_release_package_schema(
        demo_served: Served, tmp_path: Path) -> None:
    out = tmp_path / "ocds.json"
    result = cli("export", "ocds", "--server", demo_served.url, "--log-key",
                 demo_served.log_vkey, "--out", str(out))
    assert result.code == 0, result.err
    text = out.read_text(encoding="utf-8")
    package = json.loads(text, parse_float=Decimal)
    validate_release_package(package)
    releases = {r["ocid"]: r for r in package["releases"]}
    assert len(releases) == 7
    gx014 = releases["ocds-hmcl00-HM-2025-GX-014"]
    assert gx014["tag"] == ["contract", "implementation"]
    contract = gx014["contracts"][0]
    assert contract["value"] == {"amount": Decimal("680000.00"), "currency": "CNY"}
    assert contract["dateSigned"] == "2025-02-20T00:00:00+08:00"
    assert [(m["id"], m["status"], m.get("dateMet")) for m in contract["milestones"]] == [
        ("m1", "met", "2025-03-20T00:00:00+08:00"), ("m2", "met", "2025-07-05T00:00:00+08:00")]
    transactions = contract["implementation"]["transactions"]
    assert [t["value"]["amount"] for t in transactions] == [
        Decimal("480000.00"), Decimal("200000.00"), Decimal("1600.00")]
    assert transactions[0]["payer"]["name"] == "哈密市财政局"
    # Amounts are written digit for digit with two decimals: never via binary floats.
    assert '"amount": 1600.00' in text and '"amount": 3560000.00' in text
    unaccepted = releases["ocds-hmcl00-HM-2025-GX-021"]["contracts"][0]
    assert unaccepted["milestones"][0]["status"] == "scheduled"


def test_database_export_matches_the_server_export(demo_served: Served, tmp_path: Path) -> None:
    from_server = cli("export", "ocds", "--server", demo_served.url, "--contract",
                      "HM-2025-ZJ-011", "--uri", "urn:example:ocds")
    from_db = cli("export", "ocds", "--database", demo_served.database_url, "--contract",
                  "HM-2025-ZJ-011", "--uri", "urn:example:ocds")
    assert from_server.code == from_db.code == 0, from_server.err + from_db.err
    assert from_server.out == from_db.out
    package = json.loads(from_db.out, parse_float=Decimal)
    validate_release_package(package)
    assert [r["ocid"] for r in package["releases"]] == ["ocds-hmcl00-HM-2025-ZJ-011"]


def test_nothing_to_export_writes_no_invalid_package(demo_served: Served,
                                                     tmp_path: Path) -> None:
    """The release-package schema requires at least one release: an export of a contract
    not in the log (or of a log without contracts) wrote `"releases": []` with exit 0."""
    out = tmp_path / "none.json"
    result = cli("export", "ocds", "--database", demo_served.database_url, "--contract",
                 "NOPE", "--out", str(out))
    assert result.code == 2 and "no contract NOPE in the log" in result.err
    assert not out.exists()
    empty = r"\[.releases.\]: \[\] (should be non-empty|is too short)"
    with pytest.raises(AssertionError, match=empty):
        validate_release_package({**json.loads(cli(
            "export", "ocds", "--database", demo_served.database_url, "--contract",
            "HM-2025-ZJ-011").out), "releases": []})


def test_amounts_are_exact_decimals_and_floats_are_refused() -> None:
    assert dumps({"a": amount(5), "b": amount(148_000_000)}, indent=None) == \
        '{"a": 0.05,"b": 1480000.00}'
    with pytest.raises(TypeError):
        dumps({"a": 0.05})
