"""Checkpoint signing on SQLite and PostgreSQL, and refusal when the log was altered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ledger import merkle, verify
from ledger.checkpointer import Checkpointer, LogIntegrityError, check_log
from ledger.keys import SignerKey
from ledger.timeutil import format_instant
from tests.treedb import TreeDB, leaf_bytes, open_tree_db

LOG_KEY = SignerKey.from_seed("example.gov/ledger", bytes(range(32)))
LEAVES = [leaf_bytes(i) for i in range(200)]
HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 8, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def db(database_url: str) -> Iterator[TreeDB]:
    with open_tree_db(database_url) as opened:
        yield opened


def _checkpointer(db: TreeDB, batch_size: int = 16) -> Checkpointer:
    checkpointer = Checkpointer(db.dialect, LOG_KEY, clock=FakeClock(), batch_size=batch_size)
    checkpointer.create_tables(db.cursor())
    db.commit()
    return checkpointer


def _sign(db: TreeDB, checkpointer: Checkpointer) -> object:
    signed = checkpointer.sign_if_grown(db.cursor())
    db.commit()
    return signed


def test_signs_when_grown_and_every_checkpoint_is_consistent(db: TreeDB) -> None:
    checkpointer = _checkpointer(db)
    first = checkpointer.sign_if_grown(db.cursor())
    assert first is not None and first.size == 0 and first.root == merkle.EMPTY_ROOT
    assert first.signed_at == "2026-11-25T08:00:01Z"
    db.commit()
    assert _sign(db, checkpointer) is None  # nothing new
    notes = [first.note]
    for count in (1, 6, 57, 136):
        start = db.store.size(db.cursor())
        db.add_leaves(LEAVES[start : start + count])
        signed = checkpointer.current(db.cursor())
        db.commit()
        assert signed.size == start + count
        assert signed.root == merkle.root_from_leaf_hashes(HASHES[: signed.size])
        assert verify.verify_checkpoint(signed.note, LOG_KEY.verifier.vkey) == signed.checkpoint
        notes.append(signed.note)
    assert checkpointer.current(db.cursor()).size == 200
    cur = db.cursor()
    sizes = [verify.verify_checkpoint(n, LOG_KEY.verifier).size for n in notes]
    assert sizes == [0, 1, 7, 64, 200]
    for i, old in enumerate(notes):
        for new in notes[i:]:
            old_size = verify.verify_checkpoint(old, LOG_KEY.verifier).size
            new_size = verify.verify_checkpoint(new, LOG_KEY.verifier).size
            proof = (
                db.store.consistency_proof(cur, old_size, new_size).hashes if old_size else ()
            )
            verify.verify_consistency_between(old, new, proof, LOG_KEY.verifier)
    assert checkpointer.at_size(cur, 7) is not None
    assert checkpointer.at_size(cur, 8) is None
    covering = checkpointer.covering(cur, 8)
    assert covering is not None and covering.size == 64
    assert check_log(cur, db.dialect, LOG_KEY.verifier).ok


def test_instants_are_utc_and_refuse_naive_datetimes() -> None:
    assert format_instant(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert (format_instant(datetime(2026, 1, 2, 3, 4, 5, 999, tzinfo=UTC))
            == "2026-01-02T03:04:05.000999Z")
    with pytest.raises(ValueError, match="naive"):
        format_instant(datetime(2026, 1, 2))


def _grown_log(db: TreeDB) -> Checkpointer:
    """A log with a checkpoint at 50 and 30 more leaves waiting."""
    checkpointer = _checkpointer(db)
    db.add_leaves(LEAVES[:50])
    assert _sign(db, checkpointer) is not None
    db.add_leaves(LEAVES[50:80])
    return checkpointer


def _refusal(db: TreeDB, checkpointer: Checkpointer) -> LogIntegrityError:
    with pytest.raises(LogIntegrityError) as caught:
        checkpointer.sign_if_grown(db.cursor())
    db.connection.rollback()
    latest = checkpointer.latest(db.cursor())
    assert latest is not None and latest.size == 50  # nothing was signed
    return caught.value


def test_altered_new_leaf_is_refused_and_pinpointed(db: TreeDB) -> None:
    checkpointer = _grown_log(db)
    db.execute("UPDATE leaves SET leaf = ? WHERE idx = ?", (b"forged", 63))
    error = _refusal(db, checkpointer)
    assert error.index == 63
    assert "leaf 63" in error.message
    report = check_log(db.cursor(), db.dialect, LOG_KEY.verifier)
    assert report.first_bad_index == 63
    assert [p.index for p in report.problems] == [63]  # no cascade above the leaf


def test_altered_new_tree_node_is_refused_and_pinpointed(db: TreeDB) -> None:
    checkpointer = _grown_log(db)
    db.execute("UPDATE tree_nodes SET hash = ? WHERE level = ? AND idx = ?", (b"\x00" * 32, 2, 15))
    error = _refusal(db, checkpointer)
    assert error.node == (2, 15) and error.index == 60
    report = check_log(db.cursor(), db.dialect)
    assert [(p.index, p.node) for p in report.problems] == [(60, (2, 15))]


def test_altered_leaf_hash_node_is_refused(db: TreeDB) -> None:
    checkpointer = _grown_log(db)
    db.execute("UPDATE tree_nodes SET hash = ? WHERE level = 0 AND idx = ?", (HASHES[0], 77))
    assert _refusal(db, checkpointer).index == 77


def test_altered_old_frontier_node_is_refused_and_located(db: TreeDB) -> None:
    checkpointer = _grown_log(db)
    # 50 = 32 + 16 + 2: the frontier is (5, 0), (4, 2), (1, 24)
    db.execute("UPDATE tree_nodes SET hash = ? WHERE level = ? AND idx = ?", (HASHES[1], 4, 2))
    error = _refusal(db, checkpointer)
    assert error.node == (4, 2) and error.index == 32


def test_missing_leaf_is_refused(db: TreeDB) -> None:
    checkpointer = _grown_log(db)
    db.execute("DELETE FROM leaves WHERE idx = ?", (70,))
    error = _refusal(db, checkpointer)
    assert error.index == 70
    assert check_log(db.cursor(), db.dialect).first_bad_index == 70


def test_altered_old_leaf_is_found_by_the_offline_check(db: TreeDB) -> None:
    checkpointer = _grown_log(db)
    assert _sign(db, checkpointer) is not None
    db.execute("UPDATE leaves SET leaf = ? WHERE idx = ?", (b"rewritten history", 12))
    report = check_log(db.cursor(), db.dialect, LOG_KEY.verifier)
    assert not report.ok
    assert report.first_bad_index == 12
    assert report.checkpoints_checked == 2
    assert any("checkpoint 50" in p.message for p in report.problems)
    # The stored tree above the leaf still matches its stored hash, so no tree node is
    # blamed; every checkpoint over the leaf is, its root re-derived from the bytes.
    assert [p.index for p in report.problems if p.node is not None] == [12]
    assert all(p.node == (0, 12) or p.message.startswith("checkpoint ")
               for p in report.problems)
    # an outsider with the entries and the receipts' leaf hashes names it as well
    cur = db.cursor()
    cur.execute("SELECT leaf FROM leaves ORDER BY idx")
    entries = [bytes(row[0]) for row in cur.fetchall()]
    latest = checkpointer.latest(cur)
    assert latest is not None
    with pytest.raises(verify.EntryMismatch) as caught:
        verify.verify_entries(
            entries, latest.note, LOG_KEY.verifier, known_leaf_hashes=dict(enumerate(HASHES))
        )
    assert caught.value.index == 12
    with pytest.raises(verify.VerificationError, match="root"):
        verify.verify_entries(entries, latest.note, LOG_KEY.verifier)


def test_tampered_checkpoint_row_is_refused(db: TreeDB) -> None:
    checkpointer = _grown_log(db)
    db.execute("UPDATE checkpoints SET root = ? WHERE size = ?", (HASHES[0], 50))
    with pytest.raises(LogIntegrityError, match="does not match its signed note"):
        checkpointer.sign_if_grown(db.cursor())
    db.connection.rollback()
    report = check_log(db.cursor(), db.dialect, LOG_KEY.verifier)
    assert any("checkpoint 50" in p.message for p in report.problems)


def test_a_truncated_tree_is_refused(db: TreeDB) -> None:
    checkpointer = _grown_log(db)
    db.execute("DELETE FROM tree_nodes WHERE level = 0 AND idx >= ?", (40,))
    error = _refusal(db, checkpointer)
    assert error.index == 40
    assert check_log(db.cursor(), db.dialect).first_bad_index == 40


def test_a_tree_checked_apart_from_its_signing_is_signed_at_the_size_checked(
        db: TreeDB) -> None:
    """The server checks the grown tree in a read transaction and signs it in a short
    write transaction; leaves recorded in between wait for the next checkpoint."""
    checkpointer = _checkpointer(db)
    _sign(db, checkpointer)
    db.add_leaves(LEAVES[:50])
    checked = checkpointer.check_growth(db.cursor())
    db.commit()
    assert checked is not None and checked.size == 50
    db.add_leaves(LEAVES[50:80])  # recorded while the checked tree waits to be signed
    signed = checkpointer.sign_checked(db.cursor(), checked)
    db.commit()
    assert signed is not None and signed.size == 50
    assert signed.root == merkle.root_from_leaf_hashes(HASHES[:50])
    following = _sign(db, checkpointer)
    assert following is not None and following.size == 80  # type: ignore[attr-defined]


def test_a_checked_tree_is_checked_again_when_another_checkpoint_came_first(
        db: TreeDB) -> None:
    checkpointer = _checkpointer(db)
    _sign(db, checkpointer)
    db.add_leaves(LEAVES[:40])
    stale = checkpointer.check_growth(db.cursor())
    db.commit()
    assert stale is not None
    # Another signer (a second server process) signs 40, then more leaves arrive.
    assert _sign(db, checkpointer) is not None
    assert checkpointer.sign_checked(db.cursor(), stale) is None  # 40 is already signed
    db.commit()
    db.add_leaves(LEAVES[40:90])
    stale = checkpointer.check_growth(db.cursor())
    db.commit()
    db.add_leaves(LEAVES[90:100])
    assert _sign(db, checkpointer) is not None  # signs 100 first
    # The stale check (40 -> 90) is not signed as is: growth is checked again from 100.
    assert checkpointer.sign_checked(db.cursor(), stale) is None
    db.commit()
    db.add_leaves(LEAVES[100:120])
    assert stale is not None and stale.size == 90
    again = checkpointer.sign_checked(db.cursor(), stale)
    db.commit()
    assert again is not None and again.size == 120
    assert again.root == merkle.root_from_leaf_hashes(HASHES[:120])


@pytest.mark.parametrize("tree,beyond,hole", [(3000, 2000, None), (100, 50, 120)],
                         ids=["past-a-batch-boundary", "with-a-hole-beyond"])
def test_leaves_beyond_the_tree_fed_as_the_audit_reads_them_are_a_size_mismatch_only(
        db: TreeDB, database_url: str, tree: int, beyond: int, hole: int | None) -> None:
    """An audit feeds TreeCheck every batch the leaves table yields, including leaves past
    the tree's size; only the size mismatch is a problem, as check_log reports it."""
    from ledger.checkpointer import TreeCheck
    from ledger.commands.logsource import DatabaseLog

    checkpointer = _checkpointer(db)
    leaves = [leaf_bytes(i) for i in range(tree + beyond)]
    db.add_leaves(leaves[:tree])
    _sign(db, checkpointer)
    cur = db.cursor()
    p = db.p
    cur.executemany(  # leaves without tree nodes, as if the tree had lost its tail
        f"INSERT INTO leaves (idx, leaf_hash, leaf, stream, version, recorded_at) "
        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p})",
        [(i, merkle.leaf_hash(leaves[i]), leaves[i], "test/beyond", i + 1,
          "2026-01-01T00:00:00Z") for i in range(tree, tree + beyond) if i != hole])
    db.commit()
    with DatabaseLog(database_url) as log:
        check = TreeCheck(log.cursor, log.dialect, LOG_KEY.verifier)
        for batch in log.batches(log.size()):
            assert batch.column_hashes is not None
            check.feed(batch.start, batch.leaves, batch.column_hashes)
        fed = check.finish()
        offline = check_log(log.cursor, log.dialect, LOG_KEY.verifier)
    assert [(x.index, x.message) for x in fed.problems] == [
        (x.index, x.message) for x in offline.problems]
    assert [x.index for x in fed.problems] == [tree]
    assert "leaves table has" in fed.problems[0].message and not fed.truncated
    assert fed.checkpoints_checked == 1
