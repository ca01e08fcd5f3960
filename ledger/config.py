"""Settings: one frozen dataclass built from flags and ``LEDGER_*`` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import InvalidInput

# A placeholder public-institution code; a real deployment sets --operator-id.
DEFAULT_OPERATOR_ID = "12650500MB0000001P"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    origin: str = "commitment-ledger.local/log"
    operator_id: str = DEFAULT_OPERATOR_ID
    acceptance_window_days: int = 7
    checkpoint_interval: float = 1.0
    max_body_bytes: int = 1 << 20
    max_batch: int = 1000
    # How long a group commit may wait for the clients its last commit answered (0: never).
    group_linger: float = 0.003
    # How long a client may take to send a request body before it is answered 408.
    body_timeout: float = 30.0

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def operator_key_path(self) -> Path:
        return self.keys_dir / "operator.key"

    @property
    def log_key_path(self) -> Path:
        return self.keys_dir / "log.key"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'ledger.sqlite3').resolve()}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``LEDGER_*`` variables and ``overrides``; a value that is not a
        number, or outside its range, is refused naming the variable (InvalidInput)."""
        env = os.environ if environ is None else environ
        settings = cls(
            data_dir=Path(env.get("LEDGER_DATA_DIR", "var")),
            database_url=env.get("LEDGER_DATABASE_URL", ""),
            host=env.get("LEDGER_HOST", "127.0.0.1"),
            port=_number(env, "LEDGER_PORT", "8080", int, 0, 65535),
            origin=env.get("LEDGER_ORIGIN", "commitment-ledger.local/log"),
            operator_id=env.get("LEDGER_OPERATOR_ID", DEFAULT_OPERATOR_ID),
            acceptance_window_days=_number(env, "LEDGER_ACCEPTANCE_WINDOW_DAYS", "7", int,
                                           1, 366),
            # 0 signs no checkpoints on a timer (they are still signed on demand).
            checkpoint_interval=_number(env, "LEDGER_CHECKPOINT_INTERVAL", "1.0", float,
                                        0, 86400),
            group_linger=_number(env, "LEDGER_GROUP_LINGER_MS", "3", float, 0, 100) / 1000,
            body_timeout=_number(env, "LEDGER_BODY_TIMEOUT", "30", float, 0.1, 3600),
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        settings = replace(settings, **clean)
        if not 0 <= settings.port <= 65535:  # --port is not checked by the variable's range
            raise InvalidInput(f"the port must be between 0 and 65535, got {settings.port}")
        return settings


def _number(env: Mapping[str, str], name: str, default: str, kind: type[Any],
            low: float, high: float) -> Any:
    text = env.get(name, default)
    try:
        value = kind(text)
    except ValueError:
        raise InvalidInput(f"{name} must be a number, got {text!r}") from None
    if not low <= value <= high:  # also refuses nan
        raise InvalidInput(f"{name} must be between {low:g} and {high:g}, got {text!r}")
    return value
