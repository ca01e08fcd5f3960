"""RFC 6962 / RFC 9162 Merkle tree hashing and proofs. Pure: no I/O.

Hashing:
- ``leaf_hash(d)   = SHA-256(0x00 || d)``
- ``node_hash(l, r) = SHA-256(0x01 || l || r)``
- the root of an empty tree is ``SHA-256("")``; for n > 1 leaves the tree splits at
  k = the largest power of two smaller than n (RFC 6962 section 2.1).

Complete subtrees. Storage keeps only *complete* subtrees: the node ``(level, idx)`` is
the root of the perfect subtree over leaves ``[idx * 2**level, (idx + 1) * 2**level)``,
so ``(0, i)`` is the hash of leaf ``i``. Every hash a proof or a root needs is either
such a node or the RFC 6962 hash of a range ``[start, size)`` at the right edge of the
tree, which is a right fold of the complete subtrees covering the range (largest
first). The ``*_nodes`` functions list which complete subtrees are needed; the
``*_from_nodes`` functions assemble the proof or root from a mapping of them.
:class:`CompactRange` is the right edge ("frontier") of a tree: one complete subtree
per set bit of the size; appending leaves to it yields the newly completed subtrees.

Verification raises :class:`MalformedProof` (an ``InvalidInput``) for arguments that
cannot describe a proof (bounds, hash sizes, types) and :class:`VerificationError` when
a well-formed proof does not verify. Any other exception raised while verifying is
turned into ``VerificationError`` (fail closed).

Consistency from size 0 is rejected as malformed: every tree extends the empty tree,
so such a "proof" carries no evidence; callers handle an empty old tree themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Iterable, Mapping, Sequence

from .errors import InvalidInput, LedgerError, VerificationError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
MAX_TREE_SIZE = (1 << 63) - 1  # sizes and indices are stored as signed 64-bit integers

Node = tuple[int, int]
"""A complete subtree ``(level, idx)``: leaves ``[idx << level, (idx + 1) << level)``."""

NewNode = tuple[int, int, bytes]
"""A complete subtree with its hash: ``(level, idx, hash)``."""


class MalformedProof(InvalidInput):
    """The arguments cannot describe a proof: bad bounds, sizes or hash lengths."""

    code = "malformed_proof"
    title = "Malformed Merkle proof request"


class MissingNodeError(LookupError):
    """A complete subtree needed to assemble a proof or root was not supplied."""

    def __init__(self, missing: Sequence[Node]) -> None:
        shown = ", ".join(f"(level {lv}, idx {ix})" for lv, ix in missing[:8])
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        super().__init__(f"missing tree node(s): {shown}{more}")
        self.missing = list(missing)


# Hashing ---------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


# Argument checks ---------------------------------------------------------------


def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedProof(f"{what} must be an integer, got {value!r}")
    if not 0 <= value <= MAX_TREE_SIZE:
        raise MalformedProof(f"{what} {value} is outside 0..{MAX_TREE_SIZE}")
    return value


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise MalformedProof(f"{what} must be bytes, got {type(value).__name__}")
    raw = bytes(value)
    if len(raw) != HASH_SIZE:
        raise MalformedProof(f"{what} must be {HASH_SIZE} bytes, got {len(raw)}")
    return raw


def _check_proof(proof: object) -> list[bytes]:
    if proof is None:
        return []
    if isinstance(proof, bytes | bytearray | str) or not isinstance(proof, Sequence):
        raise MalformedProof(f"proof must be a sequence of hashes, got {type(proof).__name__}")
    return [_check_hash(item, f"proof[{i}]") for i, item in enumerate(proof)]


def _check_index(index: object, size: object) -> tuple[int, int]:
    idx = _check_int(index, "leaf index")
    sz = _check_int(size, "tree size")
    if idx >= sz:
        raise MalformedProof(f"leaf index {idx} is not below tree size {sz}")
    return idx, sz


def _check_sizes(size1: object, size2: object) -> tuple[int, int]:
    old = _check_int(size1, "old tree size")
    new = _check_int(size2, "new tree size")
    if old > new:
        raise MalformedProof(f"old tree size {old} is larger than new tree size {new}")
    if old == 0:
        raise MalformedProof("consistency from tree size 0 is not a proof (every tree extends it)")
    return old, new


# Tree shape ------------------------------------------------------------------


def _split(size: int) -> int:
    """The largest power of two strictly smaller than ``size`` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def subtree_nodes(start: int, end: int) -> list[Node]:
    """The complete subtrees covering leaves ``[start, end)``, left to right.

    Each is the largest aligned perfect subtree that starts at the current position and
    fits in the range.
    """
    if not 0 <= start <= end:
        raise ValueError(f"bad leaf range [{start}, {end})")
    nodes: list[Node] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            level = min(level, (start & -start).bit_length() - 1)
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def _range_nodes(start: int, end: int) -> list[Node]:
    """Complete subtrees whose right fold is the RFC 6962 hash of ``[start, end)``.

    Holds for every range the RFC 6962 recursion produces: complete subtrees and
    ranges ``[a, size)`` with ``a`` aligned to the largest power of two in the range.
    """
    nodes = subtree_nodes(start, end)
    for (upper, _), (lower, _) in itertools.pairwise(nodes):
        if lower >= upper:
            raise ValueError(f"[{start}, {end}) is not an RFC 6962 subtree range")
    return nodes


def _fold(hashes: Sequence[bytes]) -> bytes:
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose hashes form the audit path of ``index``, leaf first."""
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
    ranges.reverse()
    return ranges


def _consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """Leaf ranges whose hashes form the RFC 6962 consistency proof old -> new."""
    ranges: list[tuple[int, int]] = []
    if old == new:
        return ranges
    lo, hi = 0, new
    whole_old_tree = True  # the "b" flag of RFC 6962 SUBPROOF
    while old != hi:
        mid = lo + _split(hi - lo)
        if old <= mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
            whole_old_tree = False
    if not whole_old_tree:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def inclusion_proof_size(index: int, size: int) -> int:
    """How many hashes the audit path of ``index`` in a tree of ``size`` has."""
    idx, sz = _check_index(index, size)
    inner = (idx ^ (sz - 1)).bit_length()
    return inner + (idx >> inner).bit_count()


# Plans over complete subtrees -------------------------------------------------


def _nodes_of(ranges: Iterable[tuple[int, int]]) -> list[Node]:
    seen: dict[Node, None] = {}
    for start, end in ranges:
        for node in _range_nodes(start, end):
            seen[node] = None
    return list(seen)


def _hashes_of(ranges: Iterable[tuple[int, int]], nodes: Mapping[Node, bytes]) -> list[bytes]:
    wanted = [_range_nodes(start, end) for start, end in ranges]
    missing = [node for group in wanted for node in group if node not in nodes]
    if missing:
        raise MissingNodeError(missing)
    return [_fold([nodes[node] for node in group]) for group in wanted]


def root_nodes(size: int) -> list[Node]:
    """Complete subtrees needed for the root of a tree of ``size`` (its frontier)."""
    return subtree_nodes(0, _check_int(size, "tree size"))


def root_from_nodes(size: int, nodes: Mapping[Node, bytes]) -> bytes:
    sz = _check_int(size, "tree size")
    if sz == 0:
        return EMPTY_ROOT
    return _hashes_of([(0, sz)], nodes)[0]


def inclusion_proof_nodes(index: int, size: int) -> list[Node]:
    idx, sz = _check_index(index, size)
    return _nodes_of(_inclusion_ranges(idx, sz))


def inclusion_proof_from_nodes(index: int, size: int, nodes: Mapping[Node, bytes]) -> list[bytes]:
    idx, sz = _check_index(index, size)
    return _hashes_of(_inclusion_ranges(idx, sz), nodes)


def consistency_proof_nodes(old_size: int, new_size: int) -> list[Node]:
    old, new = _check_sizes(old_size, new_size)
    return _nodes_of(_consistency_ranges(old, new))


def consistency_proof_from_nodes(
    old_size: int, new_size: int, nodes: Mapping[Node, bytes]
) -> list[bytes]:
    old, new = _check_sizes(old_size, new_size)
    return _hashes_of(_consistency_ranges(old, new), nodes)


# The right edge of a tree -----------------------------------------------------


class CompactRange:
    """The frontier of a tree: the hashes of ``root_nodes(size)``, left to right.

    Holds O(log size) hashes. ``append`` returns every complete subtree the new leaf
    completes, starting with the leaf itself, as ``(level, idx, hash)``.
    """

    __slots__ = ("_hashes", "_levels", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        self._size = _check_int(size, "tree size")
        self._levels = [level for level, _ in root_nodes(self._size)]
        if len(hashes) != len(self._levels):
            raise InvalidInput(
                f"a tree of size {size} has {len(self._levels)} frontier hashes, got {len(hashes)}"
            )
        self._hashes = [_check_hash(h, f"frontier hash {i}") for i, h in enumerate(hashes)]

    @classmethod
    def from_nodes(cls, size: int, nodes: Mapping[Node, bytes]) -> CompactRange:
        wanted = root_nodes(size)
        missing = [node for node in wanted if node not in nodes]
        if missing:
            raise MissingNodeError(missing)
        return cls(size, [nodes[node] for node in wanted])

    @property
    def size(self) -> int:
        return self._size

    def frontier(self) -> dict[Node, bytes]:
        return dict(zip(root_nodes(self._size), self._hashes, strict=True))

    def root(self) -> bytes:
        if not self._hashes:
            return EMPTY_ROOT
        return _fold(self._hashes)

    def append(self, leaf: bytes) -> list[NewNode]:
        """Add one leaf hash; return the subtrees it completes (the leaf first)."""
        digest = _check_hash(leaf, "leaf hash")
        out: list[NewNode] = []
        self._extend(digest, out)
        return out

    def extend(self, leaves: Iterable[bytes]) -> list[NewNode]:
        """Add leaf hashes in order; return every subtree they complete."""
        out: list[NewNode] = []
        for i, leaf in enumerate(leaves):
            if not isinstance(leaf, bytes) or len(leaf) != HASH_SIZE:
                raise MalformedProof(f"leaf hash {i} must be {HASH_SIZE} bytes")
            self._extend(leaf, out)
        return out

    def _extend(self, digest: bytes, out: list[NewNode]) -> None:
        levels, hashes = self._levels, self._hashes
        index = self._size
        if index >= MAX_TREE_SIZE:
            raise InvalidInput(f"tree size {index} cannot grow further")
        out.append((0, index, digest))
        levels.append(0)
        hashes.append(digest)
        end = index + 1
        sha256 = hashlib.sha256
        while len(levels) > 1 and levels[-2] == levels[-1]:
            level = levels.pop() + 1
            right = hashes.pop()
            merged = sha256(b"\x01" + hashes[-1] + right).digest()
            hashes[-1] = merged
            levels[-1] = level
            out.append((level, (end >> level) - 1, merged))
        self._size = end


def completed_nodes(
    size: int, frontier: Mapping[Node, bytes] | Sequence[bytes], leaf_hashes: Iterable[bytes]
) -> list[NewNode]:
    """The complete subtrees that appending ``leaf_hashes`` to a tree of ``size`` adds.

    ``frontier`` holds the hashes of ``root_nodes(size)``: as a mapping from those
    nodes, or as a sequence in their order.
    """
    if isinstance(frontier, Mapping):
        compact = CompactRange.from_nodes(size, frontier)
    else:
        compact = CompactRange(size, frontier)
    return compact.extend(leaf_hashes)


# Proofs over an in-memory list of leaf hashes (reference; O(n)) -----------------


def root_from_leaf_hashes(hashes: Iterable[bytes]) -> bytes:
    compact = CompactRange()
    compact.extend(hashes)
    return compact.root()


def _all_nodes(hashes: Sequence[bytes]) -> dict[Node, bytes]:
    return {(lv, ix): h for lv, ix, h in CompactRange().extend(hashes)}


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    return inclusion_proof_from_nodes(index, len(leaf_hashes), _all_nodes(leaf_hashes))


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    return consistency_proof_from_nodes(old_size, len(leaf_hashes), _all_nodes(leaf_hashes))


# Verification ------------------------------------------------------------------


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` implies for ``leaf_hash`` at ``index`` (RFC 9162 2.1.3.2)."""
    digest = _check_hash(leaf_hash, "leaf hash")
    idx, sz = _check_index(index, size)
    path = _check_proof(proof)
    expected = inclusion_proof_size(idx, sz)
    if len(path) != expected:
        raise VerificationError(
            f"inclusion proof has {len(path)} hashes; index {idx} in a tree of size {sz} "
            f"needs {expected}"
        )
    try:
        fn, sn, result = idx, sz - 1, digest
        for sibling in path:
            if sn == 0:
                raise VerificationError("inclusion proof is longer than the path")
            if fn & 1 or fn == sn:
                result = node_hash(sibling, result)
                if not fn & 1:
                    while fn and not fn & 1:
                        fn >>= 1
                        sn >>= 1
            else:
                result = node_hash(result, sibling)
            fn >>= 1
            sn >>= 1
        if sn != 0:
            raise VerificationError("inclusion proof is shorter than the path")
    except LedgerError:
        raise
    except Exception as exc:  # fail closed
        raise VerificationError(f"inclusion proof could not be evaluated: {exc!r}") from exc
    return result


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise unless ``proof`` shows ``leaf_hash`` at ``index`` in the tree ``(size, root)``."""
    expected_root = _check_hash(root, "root")
    try:
        computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
        matches = hmac.compare_digest(computed, expected_root)
    except LedgerError:
        raise
    except Exception as exc:  # fail closed
        raise VerificationError(f"inclusion proof could not be evaluated: {exc!r}") from exc
    if not matches:
        raise VerificationError(
            f"inclusion proof for index {index} in tree size {size} gives root "
            f"{computed.hex()}, expected {expected_root.hex()}"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Raise unless ``proof`` shows tree ``(size2, root2)`` extends ``(size1, root1)``."""
    old, new = _check_sizes(size1, size2)
    old_root = _check_hash(root1, "old root")
    new_root = _check_hash(root2, "new root")
    path = _check_proof(proof)
    try:
        _verify_consistency(old, new, path, old_root, new_root)
    except LedgerError:
        raise
    except Exception as exc:  # fail closed
        raise VerificationError(f"consistency proof could not be evaluated: {exc!r}") from exc


def _verify_consistency(
    old: int, new: int, path: list[bytes], old_root: bytes, new_root: bytes
) -> None:
    if old == new:
        if path:
            raise VerificationError(f"sizes are equal ({old}) but the proof is not empty")
        if not hmac.compare_digest(old_root, new_root):
            raise VerificationError(f"sizes are equal ({old}) but the roots differ")
        return
    expected = len(_consistency_ranges(old, new))
    if len(path) != expected:
        raise VerificationError(
            f"consistency proof {old} -> {new} has {len(path)} hashes, needs {expected}"
        )
    first, second = _walk_consistency(old, new, path, old_root)
    if not hmac.compare_digest(first, old_root):
        raise VerificationError(
            f"consistency proof {old} -> {new} gives old root {first.hex()}, "
            f"expected {old_root.hex()}"
        )
    if not hmac.compare_digest(second, new_root):
        raise VerificationError(
            f"consistency proof {old} -> {new} gives new root {second.hex()}, "
            f"expected {new_root.hex()}"
        )


def _walk_consistency(
    old: int, new: int, path: list[bytes], old_root: bytes
) -> tuple[bytes, bytes]:
    """The old and new roots a consistency path implies (RFC 9162 section 2.1.4.2)."""
    if old & (old - 1) == 0:  # the old tree is a complete subtree: its root starts the path
        path = [old_root, *path]
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for item in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is longer than the path")
        if fn & 1 or fn == sn:
            first = node_hash(item, first)
            second = node_hash(item, second)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            second = node_hash(second, item)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency proof is shorter than the path")
    return first, second
