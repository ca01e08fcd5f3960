"""tlog-tiles path encoding and strict parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import tiles
from ledger.tiles import EntryBundle, InvalidTilePath, Tile, TileNotFound


@pytest.mark.parametrize(
    ("index", "encoded"),
    [(0, "000"), (5, "005"), (999, "999"), (1000, "x001/000"), (1234, "x001/234"),
     (1234067, "x001/x234/067"), (10**9, "x001/x000/x000/000")],
)
def test_index_groups(index: int, encoded: str) -> None:
    assert tiles.encode_index(index) == encoded


def test_paths() -> None:
    assert Tile(0, 5).path == "tile/0/005"
    assert Tile(1, 1, 17).path == "tile/1/001.p/17"
    assert EntryBundle(273, 112).path == "tile/entries/273.p/112"
    assert tiles.parse_tile_path("tile/entries/273.p/112") == EntryBundle(273, 112)
    assert tiles.parse_tile_path("tile/63/000") == Tile(63, 0)


@pytest.mark.parametrize(
    "path",
    [
        "/tile/0/000",
        "xtile/0/000",
        "v1/log/tile/0/000",
        "tile/0/000/",
        "tile/0/000\n",
        " tile/0/000",
        "tile/00/000",
        "tile/01/000",
        "tile/64/000",
        "tile/-1/000",
        "tile/0/5",
        "tile/0/0005",
        "tile/0/x000/005",
        "tile/0/x1/000",
        "tile/0/001/234",
        "tile/0/x001",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/01",
        "tile/0/000.p/",
        "tile/0/000.p/1/",
        "tile/0/000.p/-1",
        "tile/entries/000.p/999",
        "tile/entries/x000/000",
        "tile/entry/000",
        "tile/entries/0/000",
        "tile/\u0660/000",
        "tile/0/\u0660\u0660\u0660",
        "tile//000",
        "",
    ],
)
def test_malformed_paths_are_rejected(path: str) -> None:
    with pytest.raises(InvalidTilePath):
        tiles.parse_tile_path(path)


def test_tiles_beyond_the_tree_are_not_found() -> None:
    assert tiles.parse_tile_path("tile/0/000.p/5", tree_size=5) == Tile(0, 0, 5)
    with pytest.raises(TileNotFound):
        tiles.parse_tile_path("tile/0/000.p/6", tree_size=5)
    with pytest.raises(TileNotFound):
        tiles.parse_tile_path("tile/0/000", tree_size=255)
    assert tiles.parse_tile_path("tile/0/000", tree_size=256) == Tile(0, 0)
    with pytest.raises(TileNotFound):
        tiles.parse_tile_path("tile/1/000.p/1", tree_size=255)
    assert tiles.parse_tile_path("tile/1/000.p/1", tree_size=256) == Tile(1, 0, 1)
    with pytest.raises(TileNotFound):
        tiles.parse_tile_path("tile/entries/001", tree_size=511)
    with pytest.raises(TileNotFound):
        tiles.parse_tile_path("tile/63/x999/999", tree_size=(1 << 63) - 1)


def test_constructors_validate() -> None:
    with pytest.raises(InvalidTilePath):
        Tile(64, 0)
    with pytest.raises(InvalidTilePath):
        Tile(0, -1)
    with pytest.raises(InvalidTilePath):
        Tile(0, 0, 0)
    with pytest.raises(InvalidTilePath):
        EntryBundle(0, 257)


def test_tiles_for_small_sizes() -> None:
    assert tiles.tiles_for_size(0) == []
    assert [t.path for t in tiles.tiles_for_size(1)] == ["tile/0/000.p/1"]
    assert [t.path for t in tiles.tiles_for_size(256)] == ["tile/0/000", "tile/1/000.p/1"]
    assert [b.path for b in tiles.entry_bundles_for_size(513)] == [
        "tile/entries/000", "tile/entries/001", "tile/entries/002.p/1"
    ]


@given(
    level=st.integers(0, 63),
    index=st.integers(0, 10**18),
    width=st.integers(1, 256),
    entries=st.booleans(),
)
def test_paths_round_trip(level: int, index: int, width: int, entries: bool) -> None:
    tile: Tile | EntryBundle = EntryBundle(index, width) if entries else Tile(level, index, width)
    assert tiles.parse_tile_path(tile.path) == tile


@given(size=st.integers(0, 1 << 18))
def test_every_listed_tile_is_within_its_tree(size: int) -> None:
    listed = tiles.tiles_for_size(size)
    for tile in listed:
        tiles.check_within(tile, size)
    partial = [t for t in listed if t.is_partial]
    assert len({t.level for t in partial}) == len(partial)
