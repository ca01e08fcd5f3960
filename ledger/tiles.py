"""C2SP tlog-tiles: tile paths and tile contents.

Paths (relative to the log prefix):

- hash tile ``tile/<L>/<N>[.p/<W>]``: ``W`` (1..255) hashes of a partial tile, 256 of a
  full one, each 32 bytes. Tile height is 8: the ``i``-th hash of tile ``N`` at level
  ``L`` is the complete subtree ``(8 * L, N * 256 + i)``, i.e. the root of a full
  level-(L-1) tile (level 0 holds leaf hashes).
- entry bundle ``tile/entries/<N>[.p/<W>]``: leaves ``N * 256 ..`` each as a u16
  big-endian length followed by the leaf bytes.
- ``<N>`` is written in groups of three digits, all but the last prefixed with ``x``:
  1234067 -> ``x001/x234/067``. ``<L>`` is 0..63 and ``<W>`` 1..255, without leading
  zeros. Only the canonical spelling is accepted.

For a tree of size ``s`` the level-L tiles hold ``s >> (8 * L)`` hashes; a tile (full
or partial) exists when all its hashes do. Contents are read from the tree store and
the ``leaves`` table; they depend only on the tile, never on later growth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidInput, NotFound
from .treestore import Cursor, TreeIntegrityError, TreeStore, placeholder

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes or entries in a full tile
MAX_LEVEL = 63
MAX_ENTRY_SIZE = 0xFFFF

_PATH_RE = re.compile(
    r"tile/(?:(?P<level>0|[1-9][0-9]?)|(?P<entries>entries))/"
    r"(?P<index>(?:x[0-9]{3}/)*[0-9]{3})(?:\.p/(?P<width>[1-9][0-9]{0,2}))?"
)


MAX_INDEX_GROUPS = 7  # 2**64 - 1 has 20 decimal digits


class InvalidTilePath(InvalidInput):
    code = "invalid_tile_path"
    title = "Malformed tile path"


class TileNotFound(NotFound):
    code = "tile_not_found"
    title = "Tile beyond the tree"


def encode_index(index: int) -> str:
    """``N`` as path elements: 5 -> ``005``, 1234 -> ``x001/234``."""
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise InvalidTilePath(f"tile index must be a non-negative integer, got {index!r}")
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def _check_width(width: int) -> None:
    if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= TILE_WIDTH:
        raise InvalidTilePath(f"tile width must be 1..{TILE_WIDTH}, got {width!r}")


def _suffix(width: int) -> str:
    return "" if width == TILE_WIDTH else f".p/{width}"


@dataclass(frozen=True, slots=True)
class Tile:
    """A hash tile: ``width`` hashes of complete subtrees at tree level ``8 * level``."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if isinstance(self.level, bool) or not isinstance(self.level, int):
            raise InvalidTilePath(f"tile level must be an integer, got {self.level!r}")
        if not 0 <= self.level <= MAX_LEVEL:
            raise InvalidTilePath(f"tile level must be 0..{MAX_LEVEL}, got {self.level}")
        encode_index(self.index)
        _check_width(self.width)

    @property
    def is_partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def node_level(self) -> int:
        """The level of the complete subtrees whose hashes the tile holds."""
        return TILE_HEIGHT * self.level

    @property
    def path(self) -> str:
        return f"tile/{self.level}/{encode_index(self.index)}{_suffix(self.width)}"

    def needed_size(self) -> int:
        """The smallest tree size that holds this tile."""
        return (self.index * TILE_WIDTH + self.width) << self.node_level


@dataclass(frozen=True, slots=True)
class EntryBundle:
    """An entry bundle: leaves ``index * 256 .. index * 256 + width - 1``."""

    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        encode_index(self.index)
        _check_width(self.width)

    @property
    def is_partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def path(self) -> str:
        return f"tile/entries/{encode_index(self.index)}{_suffix(self.width)}"

    def needed_size(self) -> int:
        return self.index * TILE_WIDTH + self.width


def parse_tile_path(path: str, tree_size: int | None = None) -> Tile | EntryBundle:
    """Parse a canonical tile path; with ``tree_size``, refuse tiles beyond that tree."""
    if not isinstance(path, str):
        raise InvalidTilePath(f"tile path must be text, got {type(path).__name__}")
    match = _PATH_RE.fullmatch(path)
    if match is None:
        raise InvalidTilePath(f"not a tile path: {path[:120]!r}")
    groups = match.group("index").split("/")
    if len(groups) > MAX_INDEX_GROUPS:
        # (and int() of thousands of digits raises, past Python's conversion limit)
        raise InvalidTilePath(f"tile index of {len(groups)} groups: a 64-bit index has at "
                              f"most {MAX_INDEX_GROUPS}")
    if len(groups) > 1 and groups[0] == "x000":
        raise InvalidTilePath(f"tile index in {path!r} has leading zero groups")
    index = int("".join(g.removeprefix("x") for g in groups))
    width_text = match.group("width")
    width = int(width_text) if width_text else TILE_WIDTH
    if width_text and width >= TILE_WIDTH:
        raise InvalidTilePath(f"partial tile width must be 1..{TILE_WIDTH - 1}, got {width}")
    tile: Tile | EntryBundle
    if match.group("entries"):
        tile = EntryBundle(index, width)
    else:
        tile = Tile(int(match.group("level")), index, width)
    if tree_size is not None:
        check_within(tile, tree_size)
    return tile


def check_within(tile: Tile | EntryBundle, tree_size: int) -> None:
    """Raise ``TileNotFound`` unless every hash or entry of ``tile`` is in the tree."""
    if tile.needed_size() > tree_size:
        raise TileNotFound(
            f"{tile.path} needs a tree of at least {tile.needed_size()} leaves; "
            f"the tree has {tree_size}",
            path=tile.path,
            tree_size=tree_size,
        )


def tiles_for_size(tree_size: int) -> list[Tile]:
    """Every hash tile of a tree of ``tree_size``: full ones, then the partial one, by level."""
    tiles: list[Tile] = []
    level = 0
    while level <= MAX_LEVEL:
        count = tree_size >> (TILE_HEIGHT * level)
        if count == 0:
            break
        full, partial = divmod(count, TILE_WIDTH)
        tiles += [Tile(level, n) for n in range(full)]
        if partial:
            tiles.append(Tile(level, full, partial))
        level += 1
    return tiles


def entry_bundles_for_size(tree_size: int) -> list[EntryBundle]:
    full, partial = divmod(tree_size, TILE_WIDTH)
    bundles = [EntryBundle(n) for n in range(full)]
    if partial:
        bundles.append(EntryBundle(full, partial))
    return bundles


def read_tile(cursor: Cursor, store: TreeStore, tile: Tile, tree_size: int) -> bytes:
    """The tile's bytes: its hashes concatenated."""
    check_within(tile, tree_size)
    start = tile.index * TILE_WIDTH
    return b"".join(store.nodes_in_range(cursor, tile.node_level, start, start + tile.width))


def read_entry_bundle(
    cursor: Cursor, store: TreeStore, bundle: EntryBundle, tree_size: int
) -> bytes:
    """The bundle's bytes: each leaf as u16 big-endian length || leaf."""
    check_within(bundle, tree_size)
    p = placeholder(store.dialect)
    start = bundle.index * TILE_WIDTH
    cursor.execute(
        f"SELECT idx, leaf FROM leaves WHERE idx >= {p} AND idx < {p} ORDER BY idx",
        (start, start + bundle.width),
    )
    out = bytearray()
    expected = start
    for idx, leaf in cursor.fetchall():
        if int(idx) != expected:
            break
        data = bytes(leaf)
        if len(data) > MAX_ENTRY_SIZE:
            raise TreeIntegrityError(
                f"leaf {idx} is {len(data)} bytes; entry bundles allow {MAX_ENTRY_SIZE}",
                index=int(idx),
            )
        out += len(data).to_bytes(2, "big")
        out += data
        expected += 1
    if expected != start + bundle.width:
        raise TreeIntegrityError(f"leaf {expected} is missing", index=expected)
    return bytes(out)


def read_path(cursor: Cursor, store: TreeStore, path: str, tree_size: int) -> bytes:
    """Serve ``path`` (a hash tile or an entry bundle) for a tree of ``tree_size``."""
    tile = parse_tile_path(path, tree_size)
    if isinstance(tile, EntryBundle):
        return read_entry_bundle(cursor, store, tile, tree_size)
    return read_tile(cursor, store, tile, tree_size)
