"""What ``ledger verify`` and ``ledger audit`` remember of a server's checkpoints: a server
that cannot prove its log extends what it showed before leaves evidence, whatever it
answers, and two runs at once cannot replace a newer checkpoint with an unproven one."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ledger import merkle
from ledger.client import ServerUnreachable
from ledger.commands.state import CheckpointMemory, ForkEvidence
from ledger.errors import InvalidInput
from ledger.keys import SignerKey
from ledger.note import Checkpoint, sign_checkpoint

LOG = SignerKey.from_seed("example.gov/ledger", bytes(range(32)))
HASHES = [merkle.leaf_hash(b"entry %d" % i) for i in range(40)]
FORKED = [merkle.leaf_hash(b"forked %d" % i) for i in range(40)]


def signed(size: int, hashes: list[bytes] = HASHES) -> str:
    root = merkle.root_from_leaf_hashes(hashes[:size])
    return sign_checkpoint(Checkpoint("example.gov/ledger", size, root), LOG)


class Server:
    """Answers consistency proofs from its leaf hashes, or as ``answer`` says."""

    def __init__(self, hashes: list[bytes], answer: Any = None) -> None:
        self.hashes = hashes
        self.answer = answer

    def consistency(self, old: int, new: int) -> list[bytes]:
        if self.answer is not None:
            return self.answer(old, new)  # type: ignore[no-any-return]
        return merkle.consistency_proof(old, self.hashes[:new])


def memory(tmp_path: Path) -> CheckpointMemory:
    return CheckpointMemory("http://ledger.example", LOG.verifier, root=tmp_path)


@pytest.mark.parametrize("malformed", [True, False])
def test_an_unusable_proof_answer_is_evidence_with_both_checkpoints(
        tmp_path: Path, malformed: bool) -> None:
    """A proof answer the client cannot even read (200 with garbage: the client's
    InvalidInput) is as much evidence as a proof that does not verify."""
    mem = memory(tmp_path)
    mem.remember(signed(10))

    def garbage(old: int, new: int) -> list[bytes]:
        if malformed:
            raise InvalidInput("the consistency proof is not a list of 64-hex hashes")
        return [bytes(32)] * 3

    with pytest.raises(ForkEvidence):
        mem.reconcile(Server(FORKED, garbage), signed(15, FORKED))  # type: ignore[arg-type]
    saved = [json.loads(p.read_text()) for p in (tmp_path / "evidence").glob("fork-*.json")]
    assert [(s["remembered_checkpoint"], s["presented_checkpoint"]) for s in saved] == [
        (signed(10), signed(15, FORKED))]
    assert mem.last() == signed(10)


def test_an_unreachable_server_is_not_evidence(tmp_path: Path) -> None:
    mem = memory(tmp_path)
    mem.remember(signed(10))

    def gone(old: int, new: int) -> list[bytes]:
        raise ServerUnreachable("connection reset")

    with pytest.raises(ServerUnreachable):
        mem.reconcile(Server(HASHES, gone), signed(20))  # type: ignore[arg-type]
    assert not (tmp_path / "evidence").exists()
    assert mem.last() == signed(10)


def test_two_runs_at_once_do_not_replace_a_newer_checkpoint(tmp_path: Path) -> None:
    """Run B proves a forked 15 against the remembered 10 while run A proves the honest 20.
    Without a lock A would save 20 during B's proof, and B then overwrite it with 15: the
    fork never seen. With it, A waits, then checks its 20 against B's 15: evidence."""
    mem = memory(tmp_path)
    mem.remember(signed(10))
    forked = HASHES[:10] + FORKED[10:]  # extends 10, not what A shows at 20
    errors: list[Exception] = []

    def run_a() -> None:
        try:
            memory(tmp_path).reconcile(Server(HASHES), signed(20))  # type: ignore[arg-type]
        except Exception as exc:
            errors.append(exc)

    other = threading.Thread(target=run_a)

    def slow(old: int, new: int) -> list[bytes]:
        other.start()
        time.sleep(0.3)  # A's run proceeds meanwhile, or waits for this one
        return merkle.consistency_proof(old, forked[:new])

    mem.reconcile(Server(forked, slow), signed(15, forked))  # type: ignore[arg-type]
    other.join(timeout=10)
    assert [type(e) for e in errors] == [ForkEvidence]
    saved = [json.loads(p.read_text()) for p in (tmp_path / "evidence").glob("fork-*.json")]
    assert [(s["remembered_checkpoint"], s["presented_checkpoint"]) for s in saved] == [
        (signed(15, forked), signed(20))]


def test_two_detections_in_one_second_keep_both_files(tmp_path: Path) -> None:
    mem = memory(tmp_path)
    mem.remember(signed(10))
    for presented in (signed(12, FORKED), signed(13, FORKED), signed(12, HASHES[:10] + FORKED[::-1])):
        with pytest.raises(ForkEvidence):
            mem.reconcile(Server(FORKED), presented)  # type: ignore[arg-type]
    saved = {json.loads(p.read_text())["presented_checkpoint"]
             for p in (tmp_path / "evidence").glob("fork-*.json")}
    assert len(saved) == 3


def test_a_server_showing_the_empty_tree_after_a_larger_one_is_a_lagging_replica(
        tmp_path: Path) -> None:
    """Every tree extends the empty one: no proof to ask for (the API refuses one from
    size 0), and the larger checkpoint stays remembered."""
    mem = memory(tmp_path)
    mem.remember(signed(10))

    def no_proof_from_zero(old: int, new: int) -> list[bytes]:
        raise AssertionError("no proof is needed from the empty tree")

    result = mem.reconcile(Server(HASHES, no_proof_from_zero), signed(0))  # type: ignore[arg-type]
    assert result.previous_size == 10 and mem.last() == signed(10)
    assert not (tmp_path / "evidence").exists()
