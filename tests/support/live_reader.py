"""A reader of ``live/NAME/`` that checks every set it reads while renewals switch it.

    python live_reader.py CONFIG_DIR STOP_FILE READY_FILE MAX_SECONDS NAME...

Loops over the lineages until STOP_FILE exists or MAX_SECONDS pass, then prints one JSON object
(see :func:`main`). Each read opens ``live/NAME`` once, as a directory descriptor, and opens
``cert.pem``, ``chain.pem``, ``fullchain.pem`` and ``privkey.pem`` relative to it: that is the
set one lookup of the directory finds, which is what the switch promises to keep whole (a
reader making four separate path lookups can straddle a switch whatever the writer does; those
are counted apart as ``path_straddles``, for information). Per read it checks that every link
resolves, that the public key of the first certificate of ``fullchain.pem`` is the private
key's, and that ``fullchain.pem`` is ``cert.pem`` + ``chain.pem``.

A link that does not resolve because the set was replaced meanwhile (the old directory removed
after the exchange) is counted as ``superseded``, not as a failure: the directory descriptor
then names a directory that is no longer ``live/NAME``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

KINDS = ("cert", "chain", "fullchain", "privkey")
SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
MAX_DETAILS = 20


def _read_at(directory: int, name: str) -> bytes:
    fd = os.open(name, os.O_RDONLY, dir_fd=directory)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _replaced(live: Path, directory: int) -> bool:
    try:
        return os.stat(live).st_ino != os.fstat(directory).st_ino
    except FileNotFoundError:
        return True


def check_set(files: dict[str, bytes]) -> tuple[int | None, str]:
    """(serial, "") when the set is whole and matching, else (None, what is wrong)."""
    try:
        cert = x509.load_pem_x509_certificates(files["cert"])
        chain = x509.load_pem_x509_certificates(files["chain"])
        full = x509.load_pem_x509_certificates(files["fullchain"])
        key = serialization.load_pem_private_key(files["privkey"], password=None)
    except ValueError as exc:
        return None, f"unreadable PEM: {exc}"
    if key.public_key().public_bytes(*SPKI) != full[0].public_key().public_bytes(*SPKI):
        return None, f"privkey does not match fullchain serial {full[0].serial_number:x}"
    if full != cert + chain:
        return None, "fullchain is not cert + chain"
    return full[0].serial_number, ""


def read_once(live: Path) -> tuple[str, int | None, str]:
    """("ok", serial, ""), ("superseded", None, ""), ("unresolved"|"mismatch", None, why)."""
    directory = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            files = {kind: _read_at(directory, f"{kind}.pem") for kind in KINDS}
        except FileNotFoundError as exc:
            if _replaced(live, directory):
                return "superseded", None, ""
            return "unresolved", None, f"{exc.filename}: {exc.strerror}"
    finally:
        os.close(directory)
    serial, why = check_set(files)
    return ("ok", serial, "") if serial is not None else ("mismatch", None, why)


def path_pair_matches(live: Path) -> bool:
    """fullchain.pem then privkey.pem by path, two lookups (information only)."""
    try:
        full = x509.load_pem_x509_certificates((live / "fullchain.pem").read_bytes())
        key = serialization.load_pem_private_key((live / "privkey.pem").read_bytes(), None)
    except (OSError, ValueError):
        return False
    return key.public_key().public_bytes(*SPKI) == full[0].public_key().public_bytes(*SPKI)


def main(argv: list[str]) -> int:
    config_dir, stop, ready, max_seconds, *names = argv
    deadline = time.monotonic() + float(max_seconds)
    lives = {name: Path(config_dir) / "live" / name for name in names}
    reads = dict.fromkeys(names, 0)
    serials: dict[str, list[str]] = {name: [] for name in names}
    transitions = dict.fromkeys(names, 0)
    last: dict[str, str] = {}
    counts = {"superseded": 0, "path_reads": 0, "path_straddles": 0}
    failures: list[str] = []
    failed = {"unresolved": 0, "mismatch": 0}
    started = time.monotonic()
    while time.monotonic() < deadline and not os.path.exists(stop):
        for name, live in lives.items():
            outcome, serial, why = read_once(live)
            if outcome == "superseded":
                counts["superseded"] += 1
                continue
            if serial is None:
                failed[outcome] += 1
                if len(failures) < MAX_DETAILS:
                    failures.append(f"{name}: {outcome}: {why}")
                continue
            reads[name] += 1
            seen = f"{serial:x}"
            if last.get(name, seen) != seen:
                transitions[name] += 1
            last[name] = seen
            if seen not in serials[name]:
                serials[name].append(seen)
            counts["path_reads"] += 1
            counts["path_straddles"] += not path_pair_matches(live)
        if not os.path.exists(ready):
            Path(ready).touch()
    report = {
        "seconds": round(time.monotonic() - started, 2),
        "reads": reads,
        "serials": serials,
        "transitions": transitions,
        "failures": failures,
        **failed,
        **counts,
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
