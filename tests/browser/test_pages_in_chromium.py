"""The web pages in headless Chromium against a real ``ledger serve`` with the demo data.

Every figure a page shows is checked against the JSON API; the verify page's own script
accepts a recorded document, and refuses an altered copy, an untrusted key, a lying
server and a forked log. Screenshots at 375 and 1440 px go to ``docs/screenshots/``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from ledger import merkle
from ledger.demo import CONSULTATION, CONTRACTS
from ledger.keys import SignerKey
from ledger.note import Checkpoint, sign_checkpoint
from tests.browser.conftest import Browsing, DemoServer

WIDTHS = (375, 1440)
BUCKETS = (("0-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("91-180", 91, 180),
           (">180", 181, 10**9))
FINAL = "() => !['idle', 'working'].includes(document.getElementById('result').dataset.status)"


def yuan(fen: int) -> str:
    """The test's own formatting of fen as yuan, to compare with what the page shows."""
    return f"{fen // 100:,}.{fen % 100:02d}"


def money_cells(locator: Any) -> list[tuple[int, str]]:
    return [(int(cell.get_attribute("data-fen")), cell.inner_text())
            for cell in locator.locator("[data-fen]").all()]


# Arrears -----------------------------------------------------------------------------
@pytest.mark.parametrize("width", WIDTHS)
def test_arrears_dashboard_shows_the_json_apis_figures(browsing: Browsing, width: int) -> None:
    page = browsing.page
    browsing.open("/ui/arrears", width)
    as_of = page.inner_text("#as-of")
    api = browsing.server.json(f"/v1/arrears?as_of={as_of}")
    assert len(api["rows"]) >= 5, "the demo has arrears"
    assert page.locator("#arrears-table tbody tr").count() == len(api["rows"])
    fields = ("amount_fen", "paid_fen", "disputed_fen", "contested_fen", "outstanding_fen",
              "interest_fen", "interest_paid_fen")
    for row in api["rows"]:
        tr = page.locator(f"tr[data-contract='{row['contract_id']}']"
                          f"[data-milestone='{row['milestone_id']}']")
        assert money_cells(tr) == [(row[f], yuan(row[f])) for f in fields]
        assert tr.locator("[data-days]").inner_text() == str(row["days_overdue"])
        shown = tr.inner_text()
        assert row["responsible"]["department"] in shown
        assert row["responsible"]["official"] in shown
    totals = api["totals"]
    assert money_cells(page.locator("#totals")) == [
        (totals[f], yuan(totals[f])) for f in ("outstanding_fen", "interest_fen",
                                              "interest_paid_fen")]
    assert page.inner_text("#totals [data-count]") == str(totals["rows"])
    # The charts: sums per payer and per ageing bucket, computed here from the API's rows.
    by_payer: dict[str, list[int]] = {}
    by_age: dict[str, list[int]] = {key: [0, 0, 0] for key, _, _ in BUCKETS}
    for row in api["rows"]:
        entry = by_payer.setdefault(row["payer"], [0, 0, 0])
        for sums in [entry] + [by_age[key] for key, low, high in BUCKETS
                               if low <= row["days_overdue"] <= high]:
            sums[0] += row["outstanding_fen"]
            sums[1] += row["interest_fen"]
            sums[2] += 1
    for chart, expected in (("payer", by_payer), ("ageing", by_age)):
        bars = page.locator(f"#chart-{chart} li[data-key]")
        shown_bars = {bar.get_attribute("data-key"): [
            int(bar.get_attribute(name)) for name in (
                "data-outstanding-fen", "data-interest-fen", "data-rows")]
            for bar in bars.all()}
        assert shown_bars == expected, chart
        for bar in bars.all():
            key = bar.get_attribute("data-key")
            assert [text for _, text in money_cells(bar)] == [yuan(v) for v in expected[key][:2]]
    assert page.locator("script").count() == 0, "the dashboard needs no script"
    assert browsing.overflows() == 0
    browsing.screenshot("arrears", width)


def test_arrears_filter_form_by_payer_and_date(browsing: Browsing) -> None:
    page = browsing.page
    browsing.open("/ui/arrears")
    payer = CONTRACTS["HM-2025-ZJ-007"]["buyer"]  # the housing bureau: two milestones
    page.select_option("select[name=payer]", payer)
    page.fill("input[name=as_of]", "2025-12-31")
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    assert re.search(rf"[?&]payer={payer}\b", page.url) and "as_of=2025-12-31" in page.url
    api = browsing.server.json(f"/v1/arrears?as_of=2025-12-31&payer={payer}")
    shown = {(tr.get_attribute("data-contract"), tr.get_attribute("data-milestone"))
             for tr in page.locator("#arrears-table tbody tr[data-contract]").all()}
    assert shown == {(r["contract_id"], r["milestone_id"]) for r in api["rows"]} and shown
    assert money_cells(page.locator("#totals"))[0][0] == api["totals"]["outstanding_fen"]
    assert page.locator("#chart-payer li[data-key]").count() == 1


# Breaches ----------------------------------------------------------------------------
@pytest.mark.parametrize("width", WIDTHS)
def test_breaches_grouped_by_rule_with_responsible_and_evidence(browsing: Browsing,
                                                                 width: int) -> None:
    page = browsing.page
    browsing.open("/ui/breaches", width)
    as_of = page.inner_text("#as-of")
    api = browsing.server.json(f"/v1/breaches?as_of={as_of}")
    rules = {row["rule"] for row in api["rows"]}
    assert {"ARREARS", "CHANGE_FORBIDDEN_REASON", "COMPENSATION_OVERDUE",
            "TERM_OVER_60"} <= rules
    assert page.inner_text("#breach-count") == str(len(api["rows"]))
    for rule in rules:
        rows = [row for row in api["rows"] if row["rule"] == rule]
        group = page.locator(f"section.rule-group[data-rule='{rule}']")
        assert group.locator("tbody tr").count() == len(rows)
        assert rows[0]["article"] in group.locator(".article").inner_text()
        text = group.inner_text()
        for row in rows:
            if row["responsible"]:
                assert row["responsible"]["department"] in text
                assert row["responsible"]["official"] in text
    assert browsing.overflows() == 0
    browsing.screenshot("breaches", width)


def test_breach_evidence_leads_to_the_timeline_and_the_proof(browsing: Browsing) -> None:
    page = browsing.page
    browsing.open("/ui/breaches")
    api = browsing.server.json(f"/v1/breaches?as_of={page.inner_text('#as-of')}")
    row = next(r for r in api["rows"] if r["rule"] == "CHANGE_FORBIDDEN_REASON")
    digest = row["evidence"][0]
    group = page.locator("section.rule-group[data-rule='CHANGE_FORBIDDEN_REASON']")
    with page.expect_navigation():
        group.locator(f"a.leaf[data-leaf-hash='{digest}']").first.click()
    assert f"/ui/streams/{row['subject_stream']}" in page.url
    event = page.locator(f"li#leaf-{digest}")
    assert event.get_attribute("data-leaf-hash") == digest
    assert page.evaluate("() => location.hash") == f"#leaf-{digest}"
    with page.expect_navigation():
        event.locator("a.proof").click()
    proof = json.loads(page.inner_text("body"))
    assert proof["leaf_hash"] == digest and proof["hashes"]


# Stream timeline ---------------------------------------------------------------------
@pytest.mark.parametrize("width", WIDTHS)
def test_stream_timeline_and_an_earlier_tree_size(browsing: Browsing, width: int) -> None:
    page = browsing.page
    stream = "contract/HM-2025-GX-014"
    browsing.open(f"/ui/streams/{stream}", width)
    api = browsing.server.json(f"/v1/streams/{stream}")
    events = page.locator("li.event")
    assert events.count() == len(api["events"]) == 8
    for li, event in zip(events.all(), api["events"], strict=True):
        assert li.get_attribute("data-leaf-index") == str(event["leaf_index"])
        assert li.get_attribute("data-leaf-hash") == event["leaf_hash"]
        text = li.inner_text()
        for value in (event["type"], event["signer"], event["recorded_at"]):
            assert value in text
        assert (event["prev"] or "none (first event of the stream)") in text
        body = json.loads(li.locator("pre.body").inner_text())
        assert body == event["body"]
    assert browsing.overflows() == 0
    browsing.screenshot("stream", width)
    at = api["events"][5]["leaf_index"]
    page.fill("input[name=at]", str(at))
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    assert page.url.endswith(f"?at={at}")
    then = browsing.server.json(f"/v1/streams/{stream}?at={at}")
    assert [li.get_attribute("data-leaf-hash") for li in page.locator("li.event").all()] == [
        e["leaf_hash"] for e in then["events"]]
    assert len(then["events"]) == 5


# Verify ------------------------------------------------------------------------------
def open_verify(browsing: Browsing, width: int = 1440) -> Any:
    browsing.open("/ui/verify", width)
    browsing.page.wait_for_selector("#verify-form[data-ready=true]", state="attached")
    return browsing.page


def open_trust_settings(page: Any) -> None:
    """Unfold the trusted key and checkpoint fields, as a user would."""
    if page.get_attribute("#verify-form details", "open") is None:
        page.click("#verify-form details summary")


def verify_bytes(page: Any, name: str, data: bytes) -> str:
    page.evaluate("() => { document.getElementById('result').dataset.status = 'idle'; }")
    page.set_input_files("#document", files=[{"name": name, "mimeType": "text/plain",
                                              "buffer": data}])
    page.wait_for_function(FINAL)
    return str(page.get_attribute("#result", "data-status"))


def verify_sha(page: Any, sha: str) -> str:
    page.evaluate("() => { document.getElementById('result').dataset.status = 'idle'; }")
    page.fill("#sha256", sha)
    page.click("#verify-button")
    page.wait_for_function(FINAL)
    return str(page.get_attribute("#result", "data-status"))


@pytest.mark.parametrize("width", WIDTHS)
def test_verify_accepts_a_recorded_document(browsing: Browsing, width: int) -> None:
    page = open_verify(browsing, width)
    data = (browsing.server.documents / "HM-2025-GX-014.txt").read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    assert verify_bytes(page, "HM-2025-GX-014.txt", data) == "verified", page.inner_text(
        "#result")
    api = browsing.server.json(f"/v1/documents/{sha}")
    assert page.inner_text("#result-sha256") == sha
    proven = page.locator("li.proven-event")
    assert [li.get_attribute("data-leaf-index") for li in proven.all()] == [
        str(e["leaf_index"]) for e in api["events"]]
    text = page.inner_text("#result")
    vkey = browsing.server.log_key.verifier
    assert f"leaf {api['events'][0]['leaf_index']}" in text
    assert vkey.name in text and vkey.key_id.hex() in text
    assert "Not proven" in text and "same log as everyone else" in text
    assert "content is true" in text
    assert browsing.overflows() == 0
    browsing.screenshot("verify", width)
    # A second look in this browser compares with the checkpoint it remembered.
    assert verify_bytes(page, "HM-2025-GX-014.txt", data) == "verified"
    assert "The checkpoint this browser verified before" in page.inner_text("#result")


@pytest.mark.parametrize("width", WIDTHS)
def test_verify_refuses_an_altered_copy(browsing: Browsing, width: int) -> None:
    page = open_verify(browsing, width)
    data = bytearray((browsing.server.documents / "HM-2025-GX-014.txt").read_bytes())
    data[data.index(b"68")] = ord("9")  # one digit of the contract value
    assert verify_bytes(page, "HM-2025-GX-014.txt", bytes(data)) == "not-recorded"
    assert page.inner_text("#result-sha256") == hashlib.sha256(data).hexdigest()
    assert "No event in this log names this hash" in page.inner_text("#result")
    assert browsing.overflows() == 0
    browsing.screenshot("verify-altered", width)


def test_verify_a_document_named_in_a_nested_field(browsing: Browsing) -> None:
    page = open_verify(browsing)
    assert verify_bytes(page, CONSULTATION.file_name, CONSULTATION.data) == "verified"
    text = page.inner_text("#result")
    assert "consultation.record_sha256" in text and "commitment.changed" in text


def test_verify_with_a_key_not_trusted_is_refused(browsing: Browsing) -> None:
    page = open_verify(browsing)
    real = browsing.server.log_key
    impostor = SignerKey.from_seed(real.name, bytes(32))  # same name, another key
    open_trust_settings(page)
    page.fill("#vkey", impostor.verifier.vkey)
    sha = CONTRACTS["HM-2025-GX-014"]["document_sha256"]
    assert verify_sha(page, sha) == "refused"
    assert "not signed by the trusted key" in page.inner_text("#result-reason")
    page.fill("#vkey", real.verifier.vkey.replace("+", "+0", 1))
    assert verify_sha(page, sha) == "refused"
    assert "log key" in page.inner_text("#result-reason")


def _tamper_json(change: Callable[[dict[str, Any]], None]) -> Callable[[bytes], bytes]:
    def tamper(body: bytes) -> bytes:
        document = json.loads(body)
        change(document)
        return json.dumps(document).encode()

    return tamper


def _flip_hex(text: str) -> str:
    return ("1" if text[0] == "0" else "0") + text[1:]


def _first(document: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = document["events"][0]
    return event


LIES: dict[str, tuple[str, Callable[[bytes], bytes], str]] = {
    "proof hash": ("documents", _tamper_json(lambda d: _first(d)["inclusion"]["hashes"].__setitem__(
        0, _flip_hex(_first(d)["inclusion"]["hashes"][0]))), "gives root"),
    "shorter proof": ("documents", _tamper_json(
        lambda d: _first(d)["inclusion"]["hashes"].pop()), "needs"),
    "checkpoint root": ("documents", _tamper_json(lambda d: d.__setitem__(
        "checkpoint", re.sub(r"\n([A-Za-z0-9+/]{43}=)\n", lambda m: "\n" + (
            "A" if m.group(1)[0] != "A" else "B") + m.group(1)[1:] + "\n", d["checkpoint"],
            count=1))), "does not verify"),
    "index beyond the tree": ("documents", _tamper_json(lambda d: [
        _first(d).__setitem__("leaf_index", 10**6),
        _first(d)["inclusion"].__setitem__("leaf_index", 10**6)]), "not below the tree size"),
    "another stream": ("documents", _tamper_json(lambda d: _first(d).__setitem__(
        "stream", "contract/HM-2025-JY-005")), "is in stream"),
    "leaf bytes": ("log/entries", lambda body: body[:-1] + bytes([body[-1] ^ 1]),
                   "do not hash to the proven leaf hash"),
}


@pytest.mark.parametrize("lie", sorted(LIES))
def test_verify_refuses_a_server_that_lies(browsing: Browsing, lie: str) -> None:
    page = open_verify(browsing)
    where, tamper, reason = LIES[lie]

    def handle(route: Any) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=tamper(response.body()))

    page.route(f"**/v1/{where}/**", handle)
    data = (browsing.server.documents / "HM-2025-GX-014.txt").read_bytes()
    assert verify_bytes(page, "HM-2025-GX-014.txt", data) == "refused"
    assert reason in page.inner_text("#result-reason")
    page.unroute(f"**/v1/{where}/**")


def signed_checkpoint_at(server: DemoServer, size: int, *, forge: bool = False) -> str:
    """A checkpoint of the log's first ``size`` leaves, signed with the log key; forged:
    one leaf hash changed, as a log showing someone another history would."""
    hashes = [merkle.leaf_hash(server.get(f"/v1/log/entries/{i}")) for i in range(size)]
    if forge:
        hashes[size // 2] = hashlib.sha256(b"another history").digest()
    key = server.log_key
    return sign_checkpoint(Checkpoint(key.name, size, merkle.root_from_leaf_hashes(hashes)),
                           key)


def test_verify_checks_consistency_with_a_pasted_checkpoint(browsing: Browsing) -> None:
    page = open_verify(browsing)
    size = browsing.server.checkpoint_size() - 7
    sha = CONTRACTS["HM-2025-ZJ-007"]["document_sha256"]
    open_trust_settings(page)
    page.fill("#other-checkpoint", signed_checkpoint_at(browsing.server, size))
    assert verify_sha(page, sha) == "verified", page.inner_text("#result")
    assert f"The checkpoint you pasted (size {size}) is consistent" in page.inner_text("#result")
    page.fill("#other-checkpoint", signed_checkpoint_at(browsing.server, size, forge=True))
    assert verify_sha(page, sha) == "refused"
    assert "The checkpoint you pasted" in page.inner_text("#result-reason")
    assert page.locator("#result details pre").count() == 2  # both notes, as evidence
    other = SignerKey.from_seed("witness.example/w1", bytes(range(32, 64)))
    page.fill("#other-checkpoint", sign_checkpoint(Checkpoint(other.name, 1, bytes(32)), other))
    assert verify_sha(page, sha) == "refused"
    assert "not signed by the trusted key" in page.inner_text("#result-reason")


def test_a_hash_pasted_with_spaces_is_verified(browsing: Browsing) -> None:
    """The field's pattern kept the form from submitting at all (nothing verified,
    no message); the script trims what was pasted."""
    page = open_verify(browsing)
    sha = CONTRACTS["HM-2025-GX-014"]["document_sha256"]
    assert verify_sha(page, f" {sha.upper()} ") == "verified", page.inner_text("#result")


def test_a_run_that_finds_a_fork_remembers_nothing(browsing: Browsing) -> None:
    """The server's checkpoint was remembered before the pasted one was compared: after
    the page reported a fork, the next visit vouched for the refused side."""
    page = open_verify(browsing)
    server = browsing.server
    name = "commitment-ledger/checkpoint/" + server.log_key.verifier.vkey
    sha = CONTRACTS["HM-2025-GX-014"]["document_sha256"]
    page.evaluate("(k) => localStorage.removeItem(k)", name)
    open_trust_settings(page)
    forged = signed_checkpoint_at(server, server.checkpoint_size() - 3, forge=True)
    page.fill("#other-checkpoint", forged)
    assert verify_sha(page, sha) == "refused"
    assert "evidence of a fork" in page.inner_text("#result")
    assert page.evaluate("(k) => localStorage.getItem(k)", name) is None


def test_verify_detects_a_fork_against_the_remembered_checkpoint(browsing: Browsing) -> None:
    page = open_verify(browsing)
    server = browsing.server
    size = server.checkpoint_size() - 3
    name = "commitment-ledger/checkpoint/" + server.log_key.verifier.vkey
    sha = CONTRACTS["HM-2025-GX-014"]["document_sha256"]
    page.evaluate("([k, v]) => localStorage.setItem(k, v)",
                  [name, signed_checkpoint_at(server, size)])
    assert verify_sha(page, sha) == "verified"
    assert f"verified before (size {size}) is consistent" in page.inner_text("#result")
    remembered = page.evaluate("(k) => localStorage.getItem(k)", name)
    assert int(remembered.split("\n")[1]) == server.checkpoint_size()  # the newer one kept
    page.evaluate("([k, v]) => localStorage.setItem(k, v)",
                  [name, signed_checkpoint_at(server, size, forge=True)])
    assert verify_sha(page, sha) == "refused"
    assert "verified before" in page.inner_text("#result-reason")
    assert "evidence of a fork" in page.inner_text("#result")


def test_verify_says_when_nothing_is_chosen(browsing: Browsing) -> None:
    page = open_verify(browsing)
    page.click("#verify-button")
    page.wait_for_function(FINAL)
    assert "Choose a document" in page.inner_text("#result")
