"""The persistent tree on SQLite and PostgreSQL: appends, roots and proofs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledger import merkle
from ledger.errors import InvalidInput
from ledger.treestore import BeyondTree, TreeIntegrityError, TreeSizeMismatch, TreeStore
from tests.treedb import TreeDB, leaf_bytes, open_tree_db

LEAVES = [leaf_bytes(i) for i in range(300)]
HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]
ROOTS = [merkle.root_from_leaf_hashes(HASHES[:n]) for n in range(len(HASHES) + 1)]


@pytest.fixture
def db(database_url: str) -> Iterator[TreeDB]:
    with open_tree_db(database_url) as opened:
        yield opened


def _fill(db: TreeDB, batches: list[int]) -> int:
    size = 0
    for count in batches:
        root = db.add_leaves(LEAVES[size : size + count])
        size += count
        assert root == ROOTS[size]
    return size


def test_appends_in_batches_give_rfc6962_roots_and_proofs(db: TreeDB) -> None:
    size = _fill(db, [1, 1, 2, 3, 57, 100, 136])
    cur = db.cursor()
    store = db.store
    assert store.size(cur) == size == 300
    for n in range(0, size + 1, 7):
        assert store.root(cur, n) == ROOTS[n]
    for n in (1, 2, 3, 64, 65, 255, 256, 257, 299, 300):
        for index in {0, n // 3, n // 2, n - 1}:
            proof = store.inclusion_proof(cur, index, n)
            assert proof.leaf_hash == HASHES[index]
            assert list(proof.hashes) == merkle.inclusion_proof(index, HASHES[:n])
            merkle.verify_inclusion(HASHES[index], index, n, proof.hashes, ROOTS[n])
        for old in {1, n // 2 or 1, n - 1 or 1, n}:
            cproof = store.consistency_proof(cur, old, n)
            assert list(cproof.hashes) == merkle.consistency_proof(old, HASHES[:n])
            merkle.verify_consistency(old, n, cproof.hashes, ROOTS[old], ROOTS[n])


def test_stored_nodes_are_exactly_the_complete_subtrees(db: TreeDB) -> None:
    _fill(db, [5, 250, 45])
    cur = db.cursor()
    cur.execute("SELECT level, idx, hash FROM tree_nodes")
    stored = {(int(lv), int(ix)): bytes(h) for lv, ix, h in cur.fetchall()}
    assert stored == {(lv, ix): h for lv, ix, h in merkle.CompactRange().extend(HASHES)}
    assert len(stored) == 2 * 300 - 300 .bit_count()


def test_proof_documents(db: TreeDB) -> None:
    _fill(db, [10])
    cur = db.cursor()
    doc = db.store.inclusion_proof(cur, 3, 10).to_json()
    assert doc["leaf_index"] == 3 and doc["tree_size"] == 10
    assert doc["leaf_hash"] == HASHES[3].hex()
    assert doc["hashes"] == [h.hex() for h in merkle.inclusion_proof(3, HASHES[:10])]
    assert db.store.consistency_proof(cur, 4, 10).to_json() == {
        "from": 4,
        "to": 10,
        "hashes": [h.hex() for h in merkle.consistency_proof(4, HASHES[:10])],
    }
    assert db.store.consistency_proof(cur, 10, 10).hashes == ()


def test_requests_beyond_the_log_or_malformed_are_invalid_input(db: TreeDB) -> None:
    _fill(db, [10])
    cur = db.cursor()
    store = db.store
    with pytest.raises(BeyondTree, match="beyond the log size 10"):
        store.root(cur, 11)
    with pytest.raises(BeyondTree):
        store.inclusion_proof(cur, 3, 11)
    with pytest.raises(BeyondTree):
        store.consistency_proof(cur, 3, 11)
    with pytest.raises(BeyondTree):
        store.consistency_proof(cur, 11, 11)
    with pytest.raises(merkle.MalformedProof, match="size 0"):
        store.consistency_proof(cur, 0, 5)
    with pytest.raises(merkle.MalformedProof, match="larger than"):
        store.consistency_proof(cur, 6, 5)
    with pytest.raises(merkle.MalformedProof, match="not below"):
        store.inclusion_proof(cur, 5, 5)
    with pytest.raises(merkle.MalformedProof):
        store.leaf_hash(cur, -1)
    for error in (BeyondTree, merkle.MalformedProof):
        assert issubclass(error, InvalidInput)
    assert store.root(cur, 0) == merkle.EMPTY_ROOT


def test_append_refuses_a_wrong_start_size_and_rolls_back(db: TreeDB) -> None:
    _fill(db, [10])
    cur = db.cursor()
    with pytest.raises(TreeSizeMismatch, match="tree has 10 leaves, cannot append at 9"):
        db.store.append(cur, 9, HASHES[9:12])
    db.connection.rollback()
    cur = db.cursor()
    db.store.append(cur, 10, HASHES[10:20])
    db.connection.rollback()  # the caller's transaction decides
    assert db.store.size(db.cursor()) == 10
    assert db.store.append(db.cursor(), 10, []) == ROOTS[10]


def test_a_missing_node_is_integrity_damage(db: TreeDB) -> None:
    _fill(db, [20])
    db.execute("DELETE FROM tree_nodes WHERE level = ? AND idx = ?", (4, 0))
    with pytest.raises(TreeIntegrityError, match=r"\(level 4, idx 0\)"):
        db.store.root(db.cursor(), 20)
    with pytest.raises(TreeIntegrityError):
        db.store.append(db.cursor(), 20, HASHES[20:21])


class CountingCursor:
    """Counts statements sent to the database."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.statements: list[str] = []

    def execute(self, query: Any, params: Any = ()) -> Any:
        self.statements.append(str(query))
        return self.inner.execute(query, params)

    def executemany(self, query: Any, params_seq: Any) -> Any:
        self.statements.append("many: " + str(query))
        return self.inner.executemany(query, params_seq)

    def fetchone(self) -> Any:
        return self.inner.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self.inner.fetchall())


def test_each_call_is_one_query_over_o_log_n_nodes(db: TreeDB) -> None:
    _fill(db, [300])
    cur = CountingCursor(db.cursor())
    store: TreeStore = db.store
    store.root(cur, 299)
    store.inclusion_proof(cur, 123, 299)
    store.consistency_proof(cur, 77, 299)
    assert len(cur.statements) == 3
    cur.statements.clear()
    store.append(cur, 300, [merkle.leaf_hash(b"x%d" % i) for i in range(500)])
    assert len(cur.statements) == 3  # size, frontier, one executemany
    assert cur.statements[-1].startswith("many: INSERT")
    db.connection.rollback()
