"""What a client remembers between runs: the last checkpoint it saw from each server.

Files live under ``$LEDGER_STATE_DIR``, else ``$XDG_STATE_HOME/commitment-ledger``, else
``~/.local/state/commitment-ledger``:

- ``checkpoints/<id>.json`` — per server URL and log key: the last signed checkpoint
  verified, so the next run can demand a consistency proof from it (DESIGN 7);
- ``evidence/<kind>-<sizes>-<time>.json`` — both signed checkpoints (and the proof the
  server gave) whenever a server cannot prove that its log extends what it showed before:
  signed statements by the log key that contradict each other, for anyone to check;
- ``post/<id>.json`` — the ``signed_at`` chosen for a CSV file, so re-running ``ledger
  post`` on the same file signs byte-identical envelopes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..client import LedgerClient, unavailable
from ..errors import LedgerError, VerificationError
from ..keys import VerifierKey
from ..note import Checkpoint
from ..verify import verify_checkpoint, verify_consistency_between


def state_dir() -> Path:
    explicit = os.environ.get("LEDGER_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "commitment-ledger"


def write_json_atomically(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(value, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # The rename itself survives a power cut only once the directory is on disk.
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LedgerError(f"state file {path} is unreadable ({exc}); move it aside") from exc


def _slug(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


class ForkEvidence(VerificationError):
    """The server's new checkpoint does not provably extend the one remembered."""

    code = "fork_evidence"
    title = "Inconsistent signed checkpoints"

    def __init__(self, message: str, *, remembered: str, presented: str,
                 evidence_file: Path) -> None:
        super().__init__(message, evidence_file=str(evidence_file))
        self.remembered = remembered
        self.presented = presented
        self.evidence_file = evidence_file

    def explain(self) -> str:
        return (f"{self.message}\n\nremembered checkpoint:\n{self.remembered}\n"
                f"presented checkpoint:\n{self.presented}\n"
                f"evidence saved to {self.evidence_file}")


@dataclass(frozen=True, slots=True)
class Reconciled:
    """The outcome of checking a new checkpoint against the remembered one."""

    checkpoint: Checkpoint
    previous_size: int | None  # None: nothing was remembered (first use)
    proof_hashes: int = 0


class CheckpointMemory:
    """The last verified checkpoint of one server (URL) under one log key."""

    def __init__(self, server: str, log_key: VerifierKey, root: Path | None = None) -> None:
        self.server = server.rstrip("/")
        self.log_key = log_key
        self.root = root or state_dir()
        self.path = self.root / "checkpoints" / f"{_slug(self.server, log_key.vkey)}.json"

    def last(self) -> str | None:
        record = read_json(self.path)
        if record is None:
            return None
        note = record.get("checkpoint") if isinstance(record, dict) else None
        if not isinstance(note, str):
            raise LedgerError(f"state file {self.path} holds no checkpoint; move it aside")
        return note

    def remember(self, note: str) -> None:
        write_json_atomically(self.path, {
            "server": self.server, "log_key": self.log_key.vkey, "checkpoint": note,
            "saved_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        })

    def reconcile(self, client: LedgerClient, note: str) -> Reconciled:
        """Verify ``note`` and prove it consistent with the remembered one; then remember it.

        Raises :class:`ForkEvidence` (after saving both checkpoints) when the server cannot
        prove that its log extends the one it showed before.
        """
        new = verify_checkpoint(note, self.log_key)
        # One run at a time per server and key: another run's newer checkpoint, saved
        # while this one was proving, must not be replaced by this one unchecked.
        with self._locked():
            return self._reconcile(client, note, new)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _reconcile(self, client: LedgerClient, note: str, new: Checkpoint) -> Reconciled:
        old_note = self.last()
        if old_note is None:
            self.remember(note)
            return Reconciled(new, None)
        old = verify_checkpoint(old_note, self.log_key)
        if old.size <= new.size:
            proof: list[bytes] = []
            try:
                if 0 < old.size < new.size:
                    proof = client.consistency(old.size, new.size)
                verify_consistency_between(old_note, note, proof, self.log_key)
            except LedgerError as exc:  # refused, or answered with no valid proof
                if unavailable(exc):  # says nothing about the log
                    raise
                raise self._evidence("fork", (old_note, old), (note, new), proof, exc) from exc
            self.remember(note)
            return Reconciled(new, old.size, len(proof))
        # The server shows a smaller tree than before: fine only if it proves that the
        # tree remembered extends the one it shows now (a lagging replica, say).
        proof = []
        try:
            if new.size > 0:  # every tree extends the empty one: nothing to ask
                proof = client.consistency(new.size, old.size)
            verify_consistency_between(note, old_note, proof, self.log_key)
        except LedgerError as exc:
            if unavailable(exc):  # says nothing about the log
                raise
            raise self._evidence("rollback", (old_note, old), (note, new), proof,
                                     exc) from exc
        return Reconciled(new, old.size, len(proof))

    def _evidence(self, kind: str, remembered: tuple[str, Checkpoint],
                  presented: tuple[str, Checkpoint], proof: list[bytes],
                  cause: Exception) -> ForkEvidence:
        (old_note, old), (new_note, new) = remembered, presented
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        # The presented note's hash in the name: two detections in one second keep both.
        tag = hashlib.sha256(new_note.encode()).hexdigest()[:12]
        path = self.root / "evidence" / f"{kind}-{old.size}-{new.size}-{stamp}-{tag}.json"
        reason = cause.message if isinstance(cause, LedgerError) else str(cause)
        write_json_atomically(path, {
            "kind": kind,
            "server": self.server,
            "log_key": self.log_key.vkey,
            "remembered_checkpoint": old_note,
            "presented_checkpoint": new_note,
            "consistency_proof": [h.hex() for h in proof],
            "reason": reason,
            "detected_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        })
        what = ("does not extend" if kind == "fork"
                else "is smaller than, and not proven a prefix of,")
        return ForkEvidence(
            f"{self.server}: the checkpoint of size {new.size} (root {new.root.hex()}) "
            f"{what} the checkpoint of size {old.size} (root {old.root.hex()}) remembered "
            f"from an earlier run; both are signed by {self.log_key.name}: {reason}",
            remembered=old_note, presented=new_note, evidence_file=path)


class SignedAtMemory:
    """The ``signed_at`` chosen for one input file and signer (``ledger post``)."""

    def __init__(self, signer: str, content_sha256: str, root: Path | None = None) -> None:
        self.path = (root or state_dir()) / "post" / f"{_slug(signer, content_sha256)}.json"
        self.signer = signer
        self.content_sha256 = content_sha256

    def get(self) -> str | None:
        record = read_json(self.path)
        value = record.get("signed_at") if isinstance(record, dict) else None
        return value if isinstance(value, str) else None

    def put(self, signed_at: str, source: str) -> None:
        write_json_atomically(self.path, {"signer": self.signer, "source": source,
                                          "content_sha256": self.content_sha256,
                                          "signed_at": signed_at})
