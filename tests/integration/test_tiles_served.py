"""Tile contents read from the stores, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import merkle, tiles
from ledger.tiles import EntryBundle, Tile, TileNotFound
from tests.treedb import TreeDB, leaf_bytes, open_tree_db

LEAVES = [leaf_bytes(i) for i in range(600)]
HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]


@pytest.fixture
def db(database_url: str) -> Iterator[TreeDB]:
    with open_tree_db(database_url) as opened:
        opened.add_leaves(LEAVES[:300])
        opened.add_leaves(LEAVES[300:])
        yield opened


def _split_hashes(data: bytes) -> list[bytes]:
    assert len(data) % 32 == 0
    return [data[i : i + 32] for i in range(0, len(data), 32)]


def test_hash_tiles(db: TreeDB) -> None:
    cur = db.cursor()
    full = tiles.read_tile(cur, db.store, Tile(0, 1), 600)
    assert _split_hashes(full) == HASHES[256:512]
    partial = tiles.read_tile(cur, db.store, Tile(0, 2, 88), 600)
    assert _split_hashes(partial) == HASHES[512:600]
    older = tiles.read_tile(cur, db.store, Tile(0, 2, 10), 600)
    assert older == partial[: 10 * 32]
    upper = tiles.read_tile(cur, db.store, Tile(1, 0, 2), 600)
    assert _split_hashes(upper) == [
        merkle.root_from_leaf_hashes(HASHES[0:256]),
        merkle.root_from_leaf_hashes(HASHES[256:512]),
    ]
    with pytest.raises(TileNotFound):
        tiles.read_tile(cur, db.store, Tile(0, 2), 600)
    with pytest.raises(TileNotFound):
        tiles.read_tile(cur, db.store, Tile(1, 0, 3), 600)
    # a tile the stored tree holds but the given (checkpoint) size does not
    with pytest.raises(TileNotFound):
        tiles.read_tile(cur, db.store, Tile(0, 2, 88), 599)


def test_entry_bundles(db: TreeDB) -> None:
    cur = db.cursor()
    bundle = tiles.read_entry_bundle(cur, db.store, EntryBundle(2, 88), 600)
    entries = []
    rest = bundle
    while rest:
        length = int.from_bytes(rest[:2], "big")
        entries.append(rest[2 : 2 + length])
        rest = rest[2 + length :]
    assert entries == LEAVES[512:600]
    assert [merkle.leaf_hash(e) for e in entries] == _split_hashes(
        tiles.read_tile(cur, db.store, Tile(0, 2, 88), 600)
    )
    assert tiles.read_path(cur, db.store, "tile/entries/000", 600).startswith(
        len(LEAVES[0]).to_bytes(2, "big") + LEAVES[0]
    )
    with pytest.raises(TileNotFound):
        tiles.read_path(cur, db.store, "tile/entries/002", 600)


def test_every_tile_of_the_tree_rebuilds_the_root(db: TreeDB) -> None:
    cur = db.cursor()
    for size in (1, 255, 256, 257, 511, 512, 600):
        listed = tiles.tiles_for_size(size)
        data = {t: tiles.read_path(cur, db.store, t.path, size) for t in listed}
        assert _root_from_tiles(size, data) == merkle.root_from_leaf_hashes(HASHES[:size])


def _root_from_tiles(size: int, data: dict[Tile, bytes]) -> bytes:
    """The tree root from the partial tiles of each level (a client's computation).

    The complete subtrees of the tree's frontier are: for each level L, the roots of
    the hashes in the partial level-L tile, grouped by the size's binary digits.
    """
    nodes: dict[merkle.Node, bytes] = {}
    for tile, raw in data.items():
        for offset, digest in enumerate(_split_hashes(raw)):
            nodes[(tile.node_level, tile.index * 256 + offset)] = digest
    # complete subtrees inside a tile are rebuilt from its hashes
    for level in range(1, 64):
        for idx in range(size >> level):
            if (level, idx) not in nodes and (level - 1, 2 * idx + 1) in nodes:
                nodes[(level, idx)] = merkle.node_hash(
                    nodes[(level - 1, 2 * idx)], nodes[(level - 1, 2 * idx + 1)]
                )
    return merkle.root_from_nodes(size, nodes)


def test_a_70000_leaf_tree(tmp_path: Path) -> None:
    with open_tree_db(f"sqlite:///{tmp_path / 'tiles.sqlite3'}") as big:
        leaves = [b"%d" % i for i in range(70000)]
        for start in range(0, 70000, 10000):
            big.add_leaves(leaves[start : start + 10000])
        cur = big.cursor()
        listed = tiles.tiles_for_size(70000)
        assert len(listed) == 277
        data = {t: tiles.read_path(cur, big.store, t.path, 70000) for t in listed}
        assert sum(len(v) for v in data.values()) == 32 * (273 * 256 + 112 + 256 + 17 + 1)
        assert data[Tile(2, 0, 1)] == merkle.root_from_leaf_hashes(
            [merkle.leaf_hash(x) for x in leaves[:65536]]
        )
        assert _root_from_tiles(70000, data) == big.store.root(cur, 70000)
