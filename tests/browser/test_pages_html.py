"""The HTML handlers without a browser: status, content type, both languages, escaping of
everything from the log, figures equal to the JSON API, refusals as HTML pages."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from ledger.uscc import complete_uscc
from server import ui
from server.templates import pages
from server.templates.markup import Html, el, esc, join
from tests.browser.conftest import LOG_KEY, Site
from tests.factories import BUYER_ID, World, contract_body

HOSTILE_ID = complete_uscc("91650500MA0000708")
HOSTILE_NAME = '<img src=x onerror="alert(1)">&co'
HOSTILE_OFFICIAL = "<script>alert('official')</script>"
HOSTILE_TEXT = '"><svg onload=alert(2)>'
STREAM = "contract/HM-UI-001"
AS_OF = "2025-12-31"


def record_scenario(w: World) -> None:
    """One contract: m1 paid 16 days late (1,600.00 yuan interest), m2 never paid; the
    supplier's registered name, the official and a description are hostile markup."""
    supplier = w.register(HOSTILE_ID, HOSTILE_NAME, "enterprise", ["enterprise"], "hostile",
                          9, scale="small")
    body = contract_body(
        "HM-UI-001", supplier=HOSTILE_ID, signed_on="2025-06-01", value_fen=50_000_000,
        responsible={"department": "Hami Industry & IT <Bureau>", "official": HOSTILE_OFFICIAL},
        milestones=[
            {"milestone_id": "m1", "description": HOSTILE_TEXT, "amount_fen": 20_000_000},
            {"milestone_id": "m2", "description": "operation", "amount_fen": 30_000_000}])
    buyer = w.keys["buyer"]
    w.post(buyer, "contract.signed", STREAM, body)
    w.post(supplier, "contract.countersigned", STREAM, {"party_id": HOSTILE_ID})
    for milestone, delivered, accepted in (("m1", "2025-07-01", "2025-07-05"),
                                           ("m2", "2025-07-01", "2025-07-10")):
        w.post(supplier, "contract.delivered", STREAM,
               {"milestone_id": milestone, "delivered_on": delivered})
        w.post(buyer, "contract.accepted", STREAM,
               {"milestone_id": milestone, "accepted_on": accepted, "result": "passed"})
    w.post(w.keys["finance"], "payment.made", STREAM, {
        "payment_id": "P1", "milestone_id": "m1", "amount_fen": 20_000_000,
        "paid_on": "2025-08-20", "method": "transfer", "voucher_ref": "HMCZ-2025-0820",
        "purpose": "principal"})


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text, of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def having(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for _, attrs in self.tags if name in attrs]


def parsed(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    parser.close()
    return parser


async def fetch(site: Site, path: str, status: int = 200) -> str:
    response = await site.client.get(path, allow_redirects=False)
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == "text/html" and response.charset == "utf-8"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return text


PAGES = [
    ("/ui/verify", "验证文件是否已记录", "Verify that a document is recorded"),
    (f"/ui/arrears?as_of={AS_OF}", "拖欠中小企业账款", "Arrears"),
    (f"/ui/breaches?as_of={AS_OF}", "违规事项", "Breaches"),
    (f"/ui/streams/{STREAM}", "事件时间线", "Event timeline"),
]


@pytest.mark.parametrize(("path", "chinese", "english"), PAGES)
async def test_each_page_is_html_with_chinese_and_english_labels(
        site: Site, path: str, chinese: str, english: str) -> None:
    record_scenario(site.world)
    page = await fetch(site, path)
    assert page.startswith("<!doctype html>\n<html lang=\"zh-Hans\">")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert chinese in page and english in page
    doc = parsed(page)
    zh = [a for t, a in doc.tags if t == "span" and a.get("lang") == "zh-Hans"]
    en = [a for t, a in doc.tags if t == "span" and a.get("lang") == "en"]
    assert zh and en
    # Nothing from elsewhere: scripts and styles are this server's own files.
    for tag, attrs in doc.tags:
        for name in ("src", "href"):
            target = attrs.get(name) or ""
            assert not re.match(r"^(https?:)?//", target), (tag, target)
    assert not any(t == "script" and "src" not in a for t, a in doc.tags), "inline script"
    assert not doc.having("style"), "inline style"


async def test_everything_from_the_log_is_escaped(site: Site) -> None:
    record_scenario(site.world)
    for path in (f"/ui/arrears?as_of={AS_OF}", f"/ui/breaches?as_of={AS_OF}",
                 f"/ui/streams/{STREAM}", f"/ui/streams/party/{HOSTILE_ID}"):
        page = await fetch(site, path)
        for hostile in ("<script>alert", "<img src=x", "<svg onload", "<Bureau>"):
            assert hostile not in page, (path, hostile)
        doc = parsed(page)
        shown = "".join(doc.text)
        assert not [t for t, _ in doc.tags if t in ("img", "svg") and path.startswith(
            "/ui/streams")], "markup from the log became elements"
        assert not any(name.startswith("on") for _, attrs in doc.tags for name in attrs)
        if "streams" in path:
            as_json = [json.dumps(text)[1:-1] for text in (HOSTILE_TEXT, HOSTILE_NAME)]
            assert any(text in shown for text in as_json)  # the body, shown as JSON text
    arrears = parsed(await fetch(site, f"/ui/arrears?as_of={AS_OF}"))
    text = "".join(arrears.text)
    assert HOSTILE_NAME in text and HOSTILE_OFFICIAL in text
    assert "Hami Industry & IT <Bureau>" in text


async def test_arrears_figures_are_the_json_apis(site: Site) -> None:
    record_scenario(site.world)
    api = await (await site.client.get(f"/v1/arrears?as_of={AS_OF}")).json()
    assert api["rows"], "the scenario has arrears"
    doc = parsed(await fetch(site, f"/ui/arrears?as_of={AS_OF}"))
    rows = {(a["data-contract"], a["data-milestone"]) for a in doc.having("data-contract")}
    assert rows == {(r["contract_id"], r["milestone_id"]) for r in api["rows"]}
    fen = [int(a["data-fen"] or "") for a in doc.having("data-fen")]
    for row in api["rows"]:
        for name in ("amount_fen", "paid_fen", "outstanding_fen", "interest_fen"):
            assert row[name] in fen
    totals = api["totals"]
    page = "".join(doc.text)
    assert pages.yuan(totals["outstanding_fen"]) in page
    assert pages.yuan(totals["interest_fen"]) in page
    worked = next(r for r in api["rows"] if r["milestone_id"] == "m1")
    assert worked["interest_fen"] == 160_000 and "1,600.00" in page
    by_payer = [a for a in doc.having("data-key") if a["data-key"] == BUYER_ID]
    assert len(by_payer) == 1
    assert int(by_payer[0]["data-outstanding-fen"] or "") == totals["outstanding_fen"]
    assert int(by_payer[0]["data-interest-fen"] or "") == totals["interest_fen"]
    overdue = [r for r in api["rows"] if r["days_overdue"] > 0]
    bucket_sum = sum(int(a["data-outstanding-fen"] or "") for a in doc.having("data-key")
                     if a["data-key"] in {key for key, _, _ in ui.AGEING_BUCKETS})
    assert bucket_sum == sum(r["outstanding_fen"] for r in overdue)


async def test_arrears_filtered_by_payer_and_date(site: Site) -> None:
    record_scenario(site.world)
    page = await fetch(site, f"/ui/arrears?as_of=2025-08-10&payer={BUYER_ID}")
    api = await (await site.client.get(f"/v1/arrears?as_of=2025-08-10&payer={BUYER_ID}")).json()
    doc = parsed(page)
    assert {a["data-milestone"] for a in doc.having("data-milestone")} == {
        r["milestone_id"] for r in api["rows"]}
    selected = [a for t, a in doc.tags if t == "option" and "selected" in a]
    assert [a["value"] for a in selected] == [BUYER_ID]
    assert 'value="2025-08-10"' in page
    other = await fetch(site, f"/ui/arrears?as_of=2025-08-10&payer={HOSTILE_ID}")
    assert "No milestone is overdue." in other


async def test_breaches_grouped_by_rule_with_evidence_links(site: Site) -> None:
    record_scenario(site.world)
    api = await (await site.client.get(f"/v1/breaches?as_of={AS_OF}")).json()
    doc = parsed(await fetch(site, f"/ui/breaches?as_of={AS_OF}"))
    groups = {a["data-rule"]: int(a["data-rows"] or "") for a in doc.having("data-rows")}
    expected: dict[str, int] = {}
    for row in api["rows"]:
        expected[row["rule"]] = expected.get(row["rule"], 0) + 1
    assert groups == expected and "ARREARS" in groups
    links = {a["data-leaf-hash"]: a["href"] for a in doc.having("data-leaf-hash")}
    for row in api["rows"]:
        for digest in row["evidence"]:
            assert links[digest] is not None and links[digest].endswith(f"#leaf-{digest}")


async def test_stream_timeline_and_at(site: Site) -> None:
    record_scenario(site.world)
    api = await (await site.client.get(f"/v1/streams/{STREAM}")).json()
    doc = parsed(await fetch(site, f"/ui/streams/{STREAM}"))
    shown = [(int(a["data-leaf-index"] or ""), a["data-leaf-hash"]) for a in
             doc.having("data-leaf-index") if a.get("class") == "event"]
    assert shown == [(e["leaf_index"], e["leaf_hash"]) for e in api["events"]]
    proofs = [a["href"] for t, a in doc.tags if t == "a" and a.get("class") == "proof"]
    assert proofs == [f"/v1/log/proof/inclusion?leaf_hash={e['leaf_hash']}"
                      for e in api["events"]]
    at = api["events"][2]["leaf_index"]
    then = parsed(await fetch(site, f"/ui/streams/{STREAM}?at={at}"))
    indices = [int(a["data-leaf-index"] or "") for a in then.having("data-leaf-index")
               if a.get("class") == "event"]
    assert indices == [e["leaf_index"] for e in api["events"][:2]]
    assert all(f"tree_size={at}" in (a["href"] or "") for t, a in then.tags
               if t == "a" and a.get("class") == "proof")
    # The page as of an earlier size still says how large the log is now, and its form
    # lets a later size be chosen (it took `at` for both, and max=at refused later ones).
    size = (await (await site.client.get("/healthz")).json())["tree_size"]
    [field] = [a for t, a in then.tags if t == "input" and a.get("name") == "at"]
    assert field["max"] == str(size) and size > at


@pytest.mark.parametrize(("path", "status"), [
    ("/ui/arrears?as_of=2025-13-01", 400),
    ("/ui/arrears?payer=not-a-credit-code", 400),
    ("/ui/breaches?rule=NO_SUCH_RULE", 400),
    ("/ui/streams/contract/NO-SUCH", 404),
    ("/ui/streams/nosuchkind/x", 400),
    (f"/ui/streams/{STREAM}?at=999999", 400),
    (f"/ui/streams/{STREAM}?at=x", 400),
])
async def test_refusals_are_html_pages(site: Site, path: str, status: int) -> None:
    record_scenario(site.world)
    page = await fetch(site, path, status)
    assert "请求未能完成" in page and "The request could not be answered" in page
    assert f"{status} " in page


async def test_empty_form_fields_are_dropped_by_a_redirect(site: Site) -> None:
    response = await site.client.get(f"/ui/arrears?as_of={AS_OF}&payer=",
                                     allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == f"/ui/arrears?as_of={AS_OF}"
    response = await site.client.get("/ui", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/ui/verify"


async def test_verify_page_shows_the_log_key_and_loads_its_script(site: Site) -> None:
    page = await fetch(site, "/ui/verify")
    doc = parsed(page)
    form = next(a for t, a in doc.tags if t == "form" and a.get("id") == "verify-form")
    assert form["data-server-vkey"] == LOG_KEY.verifier.vkey
    textarea = next(t for t in doc.tags if t[0] == "textarea" and t[1].get("id") == "vkey")
    assert textarea and f">{LOG_KEY.verifier.vkey}</textarea>" in page
    assert [a["src"] for t, a in doc.tags if t == "script"] == ["/ui/static/verify.js"]
    assert "ledger verify --document FILE --log-key KEY" in page  # without JavaScript


async def test_static_files(site: Site) -> None:
    for name, kind in (("ui.css", "text/css"), ("verify.js", "javascript")):
        response = await site.client.get(f"/ui/static/{name}")
        assert response.status == 200 and kind in response.content_type
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    for path in ("/ui/static/../ui.py", "/ui/static/%2e%2e/ui.py", "/ui/static/"):
        response = await site.client.get(path)
        assert response.status in (403, 404), path


# Pieces ------------------------------------------------------------------------------
@pytest.mark.parametrize(("fen", "text"), [
    (0, "0.00"), (1, "0.01"), (99, "0.99"), (100, "1.00"), (160_000, "1,600.00"),
    (-5, "-0.05"), (12_168_235, "121,682.35"), (10**22 + 7, "100,000,000,000,000,000,000.07"),
])
def test_yuan_from_fen(fen: int, text: str) -> None:
    assert pages.yuan(fen) == text


@pytest.mark.parametrize(("days", "bucket"), [
    (0, None), (1, "0-30"), (30, "0-30"), (31, "31-60"), (60, "31-60"), (61, "61-90"),
    (90, "61-90"), (91, "91-180"), (180, "91-180"), (181, ">180"), (10_000, ">180"),
])
def test_ageing_buckets(days: int, bucket: str | None) -> None:
    assert ui.ageing_bucket(days) == bucket


def test_markup_escapes_text_and_attributes() -> None:
    assert esc("<a href='x'>&</a>") == "&lt;a href=&#x27;x&#x27;&gt;&amp;&lt;/a&gt;"
    assert el("a", '"><b>', href='" onclick="x', class_="c", hidden=True, title=None) == (
        '<a href="&quot; onclick=&quot;x" class="c" hidden>&quot;&gt;&lt;b&gt;</a>')
    assert el("p", Html("<b>ok</b>"), None, [1, ["<"]]) == "<p><b>ok</b>1&lt;</p>"
    assert el("input", data_fen=5) == '<input data-fen="5">'
    assert join(["a", None, False, Html("<br>")]) == "a<br>"
    with pytest.raises(TypeError):
        join([object()])
    with pytest.raises(ValueError):
        el("input", "child")


def test_bars_and_groups_add_the_rows() -> None:
    rows: list[dict[str, Any]] = [
        {"payer": "A", "outstanding_fen": 5, "interest_fen": 1, "days_overdue": 3},
        {"payer": "B", "outstanding_fen": 0, "interest_fen": 7, "days_overdue": 0},
        {"payer": "A", "outstanding_fen": 10, "interest_fen": 2, "days_overdue": 200},
    ]
    by_payer = {b.key: (b.outstanding_fen, b.interest_fen, b.rows)
                for b in ui.bars_by_payer(rows, {})}
    assert by_payer == {"A": (15, 3, 2), "B": (0, 7, 1)}
    by_age = {b.key: (b.outstanding_fen, b.interest_fen, b.rows) for b in ui.bars_by_age(rows)}
    assert by_age["0-30"] == (5, 1, 1) and by_age[">180"] == (10, 2, 1)
    assert sum(v[2] for v in by_age.values()) == 2  # paid late, not overdue: no bucket
    groups = ui.breach_groups([
        {"rule": "TERM_OVER_60", "article": "Hami 22; SME 9"},
        {"rule": "ARREARS", "article": "Hami 22, 64; SME 9"},
        {"rule": "TERM_OVER_60", "article": "Hami 22; SME 9"},
    ])
    assert [(g.rule.id, len(g.rows)) for g in groups] == [("ARREARS", 1), ("TERM_OVER_60", 2)]
