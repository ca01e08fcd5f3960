"""The verify page's script, in Chromium, on the same vectors as the Python verifier: every
transparency-dev RFC 6962 inclusion and consistency vector, Go's and C2SP's signed notes,
our own signed checkpoint with a witness cosignature, and strict msgpack decoding."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import msgpack

from tests.browser.conftest import Browsing
from tests.vectors.test_rfc6962_vectors import C2SP, CONSISTENCY, INCLUSION, RFC6962, STRICTER

RUN_VECTORS = """
async ([kind, texts]) => {
  const LV = window.LedgerVerify;
  const b = (text) => LV.fromBase64(text, "vector");
  const results = [];
  for (const text of texts) {
    const v = JSON.parse(text);
    try {
      if (kind === "inclusion") {
        await LV.verifyInclusion(b(v.leafHash), v.leafIdx, v.treeSize, (v.proof || []).map(b), b(v.root));
      } else {
        await LV.verifyConsistency(v.size1, v.size2, (v.proof || []).map(b), b(v.root1), b(v.root2));
      }
      results.push("accepted");
    } catch (error) {
      const typed = error instanceof LV.Malformed || error instanceof LV.Refused;
      results.push(typed ? "rejected" : "crashed: " + error);
    }
  }
  return results;
}
"""


def open_script(browsing: Browsing) -> Any:
    browsing.open("/ui/verify")
    browsing.page.wait_for_selector("#verify-form[data-ready=true]", state="attached")
    return browsing.page


def run_family(browsing: Browsing, kind: str, paths: list[Path]) -> None:
    page = open_script(browsing)
    texts = [path.read_text() for path in paths]
    results = page.evaluate(RUN_VECTORS, [kind, texts])
    wrong = {}
    for path, text, result in zip(paths, texts, results, strict=True):
        name = path.relative_to(RFC6962).as_posix()
        expected = "rejected" if json.loads(text)["wantErr"] or name in STRICTER else "accepted"
        if result != expected:
            wrong[name] = result
    assert not wrong, wrong


def test_inclusion_vectors(browsing: Browsing) -> None:
    assert len(INCLUSION) == 98
    run_family(browsing, "inclusion", INCLUSION)


def test_consistency_vectors(browsing: Browsing) -> None:
    assert len(CONSISTENCY) == 98
    run_family(browsing, "consistency", CONSISTENCY)


OPEN = """
async ([call, note, vkey]) => {
  const LV = window.LedgerVerify;
  try {
    const key = await LV.parseVkey(vkey);
    const opened = call === "note" ? await LV.openNote(note, key) : await LV.openCheckpoint(note, key);
    return call === "note" ? {text: opened} : {origin: opened.origin, size: String(opened.size), root: LV.toHex(opened.root)};
  } catch (error) {
    return {error: (error instanceof LV.Malformed ? "malformed: " : error instanceof LV.Refused ? "refused: " : "crashed: ") + error.message};
  }
}
"""


def test_signed_notes_and_checkpoints(browsing: Browsing) -> None:
    page = open_script(browsing)

    def run(call: str, note: str, vkey: str) -> dict[str, str]:
        result: dict[str, str] = page.evaluate(OPEN, [call, note, vkey])
        return result

    ours = C2SP["our_checkpoint"]
    root = base64.b64decode(ours["signed_checkpoint"].split("\n")[2]).hex()
    assert run("checkpoint", ours["signed_checkpoint"], ours["log_vkey"]) == {
        "origin": "example.gov/ledger", "size": "8", "root": root}
    cosigned = ours["signed_checkpoint"] + ours["cosignature_line"]
    assert run("checkpoint", cosigned, ours["log_vkey"])["size"] == "8"  # witness ignored
    go = C2SP["go_note_vectors"]
    note = go["text"] + "\n" + go["sig_line"]
    assert run("note", note, go["vkey"]) == {"text": go["text"]}
    assert run("note", note, go["enoch_vkey"])["error"].startswith("refused: ")
    example = C2SP["c2sp_signed_note_example"]
    assert run("note", example["note"], example["vkey"]) == {
        "text": "This is an example message.\n"}
    golang = C2SP["sum_golang_org"]  # signed by sum.golang.org, origin "go.sum database tree"
    assert run("note", golang["note"], golang["vkey"])["text"].split("\n")[1] == "6476701"
    assert "is not the log key's name" in run("checkpoint", golang["note"], golang["vkey"])[
        "error"]
    # One changed bit of the signature, the text, or the key hash.
    line = ours["signed_checkpoint"].split("\n")[4]
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[10] ^= 1
    bad_sig = ours["signed_checkpoint"].replace(line.split(" ")[2],
                                                base64.b64encode(raw).decode())
    assert run("checkpoint", bad_sig, ours["log_vkey"])["error"] == (
        "refused: the checkpoint's signature by example.gov/ledger does not verify")
    bad_text = ours["signed_checkpoint"].replace("\n8\n", "\n9\n")
    assert run("checkpoint", bad_text, ours["log_vkey"])["error"].startswith("refused: ")
    bad_key = ours["log_vkey"].replace("+dd9aee47+", "+dd9aee48+")
    assert "does not match" in run("checkpoint", ours["signed_checkpoint"], bad_key)["error"]
    # A note signed by the key, whose origin is not the key's name, is no checkpoint.
    assert run("checkpoint", note, go["vkey"])["error"].startswith("malformed: ")


DECODE = """
(bytes) => {
  const LV = window.LedgerVerify;
  try {
    const value = LV.decodeMsgpack(Uint8Array.from(bytes));
    return JSON.stringify(value, (k, v) => v instanceof Uint8Array ? "bin:" + LV.toHex(v) : typeof v === "bigint" ? "big:" + v : v);
  } catch (error) {
    return (error instanceof LV.Malformed ? "malformed: " : "crashed: ") + error.message;
  }
}
"""


def test_strict_msgpack_decoding(browsing: Browsing) -> None:
    page = open_script(browsing)

    def decode(data: bytes) -> str:
        return str(page.evaluate(DECODE, list(data)))

    leaf = browsing.server.get("/v1/log/entries/0")
    decoded = json.loads(decode(leaf))
    expected = msgpack.unpackb(leaf, raw=False)
    assert decoded["stream"] == expected["stream"] and decoded["version"] == 1
    assert decoded["envelope"] == "bin:" + expected["envelope"].hex()
    value = {"a": [1, -1, -33, 200, 70000, 2**40, -(2**40), 2**63, None, True, "中"],
             "b": b"\x00\xff"}
    assert json.loads(decode(msgpack.packb(value, use_bin_type=True))) == {
        "a": [1, -1, -33, 200, 70000, 2**40, -(2**40), f"big:{2**63}", None, True, "中"],
        "b": "bin:00ff"}
    for bad, reason in (
        (msgpack.packb({"b": 1, "a": 2}), "sorted"),
        (b"\x82\xa1a\x01\xa1a\x02", "sorted"),  # a duplicate key
        (msgpack.packb(1.5), "not allowed"),
        (msgpack.packb(1) + b"\x00", "trailing"),
        (b"\x92\x01", "truncated"),
        (b"\xdd\xff\xff\xff\xff", "truncated"),  # a length beyond the input
        (b"\xa2\xff\xfe", "UTF-8"),
        (msgpack.packb({1: 2}), "not text"),
    ):
        assert decode(bad).startswith("malformed: ") and reason in decode(bad), (bad, reason)
