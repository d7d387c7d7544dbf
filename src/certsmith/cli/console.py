"""What the user sees: messages on stdout, errors on stderr, the log file in --logs-dir."""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from certsmith.wording import Said

if TYPE_CHECKING:
    from certsmith.preflight.messages import Catalogue

LOG_FILE = "letsencrypt.log"  # certbot's name, so log collectors keep working


class _BufferedLog(logging.handlers.MemoryHandler):
    """Holds records until a warning, 2,000 records, or the end of the run; then writes."""

    def __init__(self, target: logging.Handler) -> None:
        super().__init__(2000, flushLevel=logging.WARNING, target=target)

    def close(self) -> None:
        target = self.target
        super().close()  # flushes, but leaves the target open
        if target is not None:
            target.close()


class _PrivateLogFile(logging.handlers.RotatingFileHandler):
    """The log records hook commands and their output: each file (rotated ones too) is 0600
    whatever the umask, as certsmith's keys are."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.fchmod(fd, 0o600)
        except BaseException:
            os.close(fd)
            raise
        return io.open(fd, "a", encoding=self.encoding, errors=self.errors)  # noqa: UP020


LOG_ROTATE_BYTES = 5_000_000
LOG_BACKUPS = 10


def setup_logging(logs_dir: Path, verbose: int, quiet: bool, backups: int | None = None) -> None:
    """Everything at DEBUG into the log file, rotated at 5 MB keeping ``backups`` old files
    (certbot's --max-log-backups; 0: never rotated, as certbot); -v shows INFO (-vv DEBUG) on
    stderr."""
    backups = LOG_BACKUPS if backups is None else backups
    root = logging.getLogger("certsmith")
    root.setLevel(logging.DEBUG)
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()  # a second run in the same process must not leak the log file
    try:
        if not logs_dir.is_dir():
            logs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            logs_dir.chmod(0o700)  # mkdir applies the umask
        file_handler = _PrivateLogFile(
            logs_dir / LOG_FILE,
            maxBytes=LOG_ROTATE_BYTES if backups else 0,
            backupCount=backups,
            encoding="utf-8",
        )
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s:%(levelname)s:%(name)s:%(message)s")
        )
        # Buffered: a `renew` over 1,000 lineages logs thousands of lines, and a write per line
        # costs more than the check. Warnings flush at once; the rest at exit (logging's atexit).
        root.addHandler(_BufferedLog(file_handler))
    except OSError as exc:
        from certsmith.preflight.messages import Catalogue

        said = Catalogue().get("logs.unwritable", folder=logs_dir, error=exc.strerror)
        sys.stderr.write(f"certsmith: {said}\n")
    if verbose and not quiet:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        # What the console already printed goes to the log file, not twice to the terminal.
        stream.addFilter(lambda record: not getattr(record, "on_screen", False))
        root.addHandler(stream)


class Console:
    """The only writer to the terminal."""

    def __init__(
        self,
        *,
        quiet: bool = False,
        verbose: int = 0,
        out: TextIO | None = None,
        err: TextIO | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        """``catalogue`` fixes the language of explanations; by default the environment's
        (LC_ALL, LC_MESSAGES, LANG), read when the first error is explained."""
        self.quiet = quiet
        self.verbose = verbose
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._catalogue = catalogue

    @property
    def catalogue(self) -> Catalogue:
        """The messages of the run's language (the environment's unless one was given)."""
        if self._catalogue is None:
            from certsmith.preflight.messages import Catalogue

            self._catalogue = Catalogue()
        return self._catalogue

    def message(self, key: str, /, **values: object) -> str:
        """The catalogue's text for ``key`` filled with ``values``."""
        return self.catalogue.get(key, **values)

    def words(self, text: str) -> str:
        """What the engine said (a :class:`~certsmith.wording.Said`) in the run's language;
        other text as it is."""
        return self.catalogue.words(text) if isinstance(text, Said) else text

    def say(self, text: str) -> None:
        text = self.words(text)
        if not self.quiet:
            self.out.write(text if text.endswith("\n") else text + "\n")
            self.out.flush()

    def data(self, text: str) -> None:
        """Machine-readable output (--json): printed even with --quiet."""
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        text = self.words(text)
        if not self.quiet:
            self.err.write(f"{text}\n")

    def error(self, text: str) -> None:
        self.err.write(f"certsmith: error: {text}\n")
        self.err.flush()

    def explain(self, error: BaseException) -> None:
        """One sentence of what happened and one of what to do; the raw detail under -v."""
        from certsmith.cli.explain import explain

        cat = self.catalogue
        explanation = explain(error, catalogue=cat)
        self.err.write(f"certsmith: {explanation.sentence}\n")
        if explanation.next_step:
            self.err.write(f"  {cat.get('console.what_to_do')}: {explanation.next_step}\n")
        # The next steps point at the detail ("named below"), so it is always shown.
        if explanation.detail and explanation.detail != explanation.sentence:
            detail = explanation.detail.replace("\n", "\n    ")
            self.err.write(f"  {cat.get('console.detail')}: {detail}\n")
        logging.getLogger("certsmith").error(
            "%s (%s)", explanation.sentence, explanation.detail, extra={"on_screen": True}
        )
        self.err.flush()
