"""Where the alert settings and the alert memory live (the file backend; `certsmith.notify`
decides what they mean).

    <config_dir>/notify.toml                        the channels (`certsmith notify setup`), 0600:
                                                    a webhook URL is often its own secret
    <config_dir>/.certsmith-state/notify-sent.json  what was sent when (de-duplication), 0600
    <config_dir>/.certsmith-state/last-check.json   the findings of the last `check` with
                                                    endpoints (for the status page), 0600

Both are written atomically (temp file, fsync, rename). Reading a missing file gives None; the
memory of sent alerts is best effort: an unreadable one is treated as empty (one alert too many
beats a renewal that fails for its diary), an unwritable one is logged.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from certsmith.storage.files import PRIVATE_FILE_MODE, atomic_write, ensure_dir

log = logging.getLogger(__name__)

CONFIG_NAME = "notify.toml"
STATE_FOLDER = ".certsmith-state"
SENT_NAME = "notify-sent.json"
CHECK_NAME = "last-check.json"
MAX_CONFIG_BYTES = 64 * 1024


class NotifyFiles:
    """The alert settings and memory of one config dir."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = Path(config_dir)
        self.config_path = self.config_dir / CONFIG_NAME
        self.sent_path = self.config_dir / STATE_FOLDER / SENT_NAME
        self.check_path = self.config_dir / STATE_FOLDER / CHECK_NAME

    def read_config(self) -> str | None:
        """The settings file's text, None when there is none. OSError when unreadable."""
        try:
            with self.config_path.open("rb") as handle:
                data = handle.read(MAX_CONFIG_BYTES + 1)
        except FileNotFoundError:
            return None
        if len(data) > MAX_CONFIG_BYTES:
            raise OSError(f"{self.config_path} is larger than {MAX_CONFIG_BYTES} bytes")
        return data.decode("utf-8", errors="replace")

    def write_config(self, text: str) -> Path:
        ensure_dir(self.config_dir)
        atomic_write(self.config_path, text.encode("utf-8"), PRIVATE_FILE_MODE)
        return self.config_path

    def load_sent(self) -> dict[str, Any]:
        return _load(self.sent_path)

    def save_sent(self, data: dict[str, Any]) -> bool:
        return _save(self.sent_path, data)

    def load_check(self) -> dict[str, Any]:
        return _load(self.check_path)

    def save_check(self, data: dict[str, Any]) -> bool:
        return _save(self.check_path, data)


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("%s unreadable (%s); starting afresh", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _save(path: Path, data: dict[str, Any]) -> bool:
    try:
        ensure_dir(path.parent)
        body = json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")
        atomic_write(path, body, PRIVATE_FILE_MODE)
    except OSError as exc:
        log.warning("could not write %s: %s", path, exc)
        return False
    return True
