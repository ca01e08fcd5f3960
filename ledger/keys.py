"""Ed25519 keys in the signed-note string formats (C2SP signed-note, Go sumdb/note).

- verifier key (vkey): ``<name>+<hash8>+<base64(0x01 || pub32)>``
- signer key:          ``PRIVATE+KEY+<name>+<hash8>+<base64(0x01 || seed32)>``
- ``hash8``: hex of the first 4 bytes of SHA-256(name || "\\n" || 0x01 || pub32),
  which is also the 4-byte key id prefixed to note signatures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import InvalidKey

ALG_ED25519 = 0x01
_PRIVATE_PREFIX = "PRIVATE+KEY+"


def check_key_name(name: str) -> str:
    if not name or any(ch.isspace() for ch in name) or "+" in name:
        raise InvalidKey(f"key name {name!r} must be non-empty, without spaces or '+'")
    return name


def key_id(name: str, public: bytes) -> bytes:
    """The 4-byte signed-note key id of an Ed25519 key."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public).digest()[:4]


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise InvalidKey(f"{what}: not standard base64") from exc


@dataclass(frozen=True, slots=True)
class VerifierKey:
    name: str
    public: bytes
    _key: Ed25519PublicKey = field(repr=False, compare=False)

    @classmethod
    def from_public(cls, name: str, public: bytes) -> VerifierKey:
        check_key_name(name)
        if len(public) != 32:
            raise InvalidKey(f"Ed25519 public key must be 32 bytes, got {len(public)}")
        return cls(name, public, Ed25519PublicKey.from_public_bytes(public))

    @classmethod
    def parse(cls, vkey: str) -> VerifierKey:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise InvalidKey(f"vkey {vkey!r}: expected <name>+<hash8>+<base64>")
        name, hash8, encoded = parts
        raw = _b64decode(encoded, "vkey")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise InvalidKey(f"vkey {vkey!r}: expected 0x01 followed by a 32-byte Ed25519 key")
        key = cls.from_public(name, raw[1:])
        if hash8 != key.key_id.hex():
            raise InvalidKey(f"vkey {vkey!r}: key hash {hash8} does not match {key.key_id.hex()}")
        return key

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public)

    @property
    def vkey(self) -> str:
        encoded = base64.b64encode(bytes([ALG_ED25519]) + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature of ``message``."""
        if len(signature) != 64:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __str__(self) -> str:
        return self.vkey


@dataclass(frozen=True, slots=True)
class SignerKey:
    name: str
    seed: bytes = field(repr=False)
    _key: Ed25519PrivateKey = field(repr=False, compare=False)

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> SignerKey:
        check_key_name(name)
        if len(seed) != 32:
            raise InvalidKey(f"Ed25519 seed must be 32 bytes, got {len(seed)}")
        return cls(name, seed, Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def generate(cls, name: str) -> SignerKey:
        return cls.from_seed(name, os.urandom(32))

    @classmethod
    def parse(cls, skey: str) -> SignerKey:
        text = skey.strip()
        if not text.startswith(_PRIVATE_PREFIX):
            raise InvalidKey("signer key must start with PRIVATE+KEY+")
        parts = text[len(_PRIVATE_PREFIX) :].split("+", 2)
        if len(parts) != 3:
            raise InvalidKey("signer key: expected PRIVATE+KEY+<name>+<hash8>+<base64>")
        name, hash8, encoded = parts
        raw = _b64decode(encoded, "signer key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise InvalidKey("signer key: expected 0x01 followed by a 32-byte Ed25519 seed")
        key = cls.from_seed(name, raw[1:])
        if hash8 != key.verifier.key_id.hex():
            raise InvalidKey(f"signer key {name}: key hash {hash8} does not match its key")
        return key

    @property
    def public(self) -> bytes:
        return self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def verifier(self) -> VerifierKey:
        return VerifierKey.from_public(self.name, self.public)

    @property
    def skey(self) -> str:
        encoded = base64.b64encode(bytes([ALG_ED25519]) + self.seed).decode()
        return f"{_PRIVATE_PREFIX}{self.name}+{self.verifier.key_id.hex()}+{encoded}"

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    # Files ---------------------------------------------------------------
    def write(self, path: Path) -> None:
        """Write the signer key to ``path`` with mode 0600, never replacing a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.skey + "\n")

    @classmethod
    def read(cls, path: Path) -> SignerKey:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InvalidKey(f"{path}: private key file must not be readable by others (chmod 600)")
        return cls.parse(path.read_text())
