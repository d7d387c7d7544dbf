"""Pre, post and deploy hooks with certbot's semantics, safe for concurrent renewals.

One :class:`HookRunner` lives for one run (``renew``, ``certonly``...). Its caller's duties:

* call :meth:`HookRunner.before_renewal` before each renewal *attempt* (only for lineages that are
  due). The first call runs the pre hooks: the executables in
  ``<config_dir>/renewal-hooks/pre/`` in sorted order, then the lineage's ``--pre-hook``. Each
  distinct command runs at most once per run, even when it fails. Concurrent callers block until
  the pre hooks finished, so no renewal starts while, say, the web server is still being stopped.
  The lineage's post hooks (the ``post/`` folder, then ``--post-hook``) are registered for later.
* call :meth:`HookRunner.deploy` after each successful renewal: runs ``renewal-hooks/deploy/``
  then the lineage's ``--deploy-hook`` (``renew_hook`` in certbot's renewal conf) with
  ``RENEWED_LINEAGE`` (the ``live/<name>`` directory) and ``RENEWED_DOMAINS`` (space-separated).
  Call :meth:`HookRunner.record_failure` after a failed one.
* call :meth:`HookRunner.finish` once at the end: runs each registered post hook once, in
  registration order, with ``RENEWED_DOMAINS`` and ``FAILED_DOMAINS`` across the run (certbot
  4.2+). Nothing registered (no renewal attempted) means no post hook runs.

A failing hook never raises: like certbot, the failure is logged ("Hook 'pre-hook' reported error
code 1") and returned in :class:`HookResult`, and the run goes on; :attr:`HookRunner.failures`
lists them for the final report. Hooks run with ``/bin/sh -c`` in their own process group, which
is killed when the time limit passes. The pre, post and (by default) deploy hooks run one at a
time; with asyncio, call the methods through ``asyncio.to_thread`` (see the ``*_async`` helpers).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shlex
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from certsmith.errors import UsageError
from certsmith.renewal.shell import CommandOutcome, CommandRunner, RunningGroups, run_shell
from certsmith.wording import said

__all__ = [
    "DEFAULT_TIMEOUT",
    "CommandOutcome",
    "CommandRunner",
    "HookKind",
    "HookResult",
    "HookRunner",
    "list_hook_dir",
    "run_shell",
    "validate_hook",
]

logger = logging.getLogger(__name__)

#: Seconds a hook may run before its process group is killed.
DEFAULT_TIMEOUT = 600.0
#: Environment variables for post hooks are cut to this many characters each (as certbot does).
_ENV_LIMIT = 16_000
#: Captured output kept per stream in a HookResult.
_OUTPUT_LIMIT = 64_000


class HookKind(StrEnum):
    PRE = "pre"
    POST = "post"
    DEPLOY = "deploy"


@dataclass(frozen=True)
class HookResult:
    """One hook execution, as recorded by :class:`HookRunner`."""

    kind: HookKind
    command: str
    lineage: str | None
    outcome: CommandOutcome

    @property
    def ok(self) -> bool:
        o = self.outcome
        return o.returncode == 0 and not o.timed_out and o.error is None


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def list_hook_dir(directory: Path) -> list[Path]:
    """Executable files in ``directory``, sorted by path; a missing folder gives [].

    Non-executable files and editor backups (ending in ``~``) are skipped with a log line.
    """
    try:
        entries = sorted(directory.iterdir())
    except FileNotFoundError:
        return []
    except OSError as exc:
        logger.warning("cannot list hook folder %s: %s", directory, exc)
        return []
    hooks: list[Path] = []
    for entry in entries:
        if entry.name.endswith("~"):
            logger.info("skipping backup file in hook folder: %s", entry)
        elif entry.is_dir():
            logger.debug("skipping folder in hook folder: %s", entry)
        elif not _is_executable(entry):
            logger.info("skipping %s: not executable (chmod +x to run it as a hook)", entry)
        else:
            hooks.append(entry)
    return hooks


def validate_hook(command: str | None, kind: HookKind | str) -> None:
    """Raise UsageError if the program a hook command starts cannot be found or executed."""
    if not command or not command.strip():
        return
    try:
        program = shlex.split(command)[0]
    except (ValueError, IndexError):
        program = command.split()[0]
    if shutil.which(program) is not None:
        return
    if Path(program).exists():
        raise UsageError(said("engine.hook_not_executable", kind=kind, program=program))
    path = os.environ.get("PATH", "")
    raise UsageError(said("engine.hook_not_found", kind=kind, program=program, path=path))


def validate_hooks(*, pre_hook: str | None, post_hook: str | None, deploy_hook: str | None) -> None:
    """certbot's check of --pre-hook, --post-hook and --deploy-hook before anything runs: raise
    UsageError for the first whose program is missing or not executable."""
    validate_hook(pre_hook, HookKind.PRE)
    validate_hook(post_hook, HookKind.POST)
    validate_hook(deploy_hook, HookKind.DEPLOY)


@dataclass(frozen=True)
class _Hook:
    key: str  # what de-duplication compares: the user's string, or a hook file's path
    shell: str  # what /bin/sh runs


def _joined(names: Iterable[str], label: str) -> str:
    text = " ".join(names)
    if len(text) > _ENV_LIMIT:
        logger.warning("Limiting %s environment variable to %d characters", label, _ENV_LIMIT)
        text = text[:_ENV_LIMIT]
    return text


class HookRunner:
    """Runs the hooks of one run and records what ran; thread-safe (see the module docstring)."""

    def __init__(
        self,
        *,
        config_dir: Path | None = None,
        directory_hooks: bool = True,
        runner: CommandRunner | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        dry_run: bool = False,
        run_deploy_hooks: bool = False,
        base_env: Mapping[str, str] | None = None,
        parallel_deploy: bool = False,
    ) -> None:
        """``config_dir`` holds ``renewal-hooks/``; ``directory_hooks=False`` ignores it
        (``--no-directory-hooks``). In a dry run deploy hooks are skipped unless
        ``run_deploy_hooks``. ``base_env`` defaults to a copy of ``os.environ`` taken now.
        ``parallel_deploy`` lets deploy hooks of different lineages overlap."""
        self._hooks_root = config_dir / "renewal-hooks" if config_dir else None
        self._directory_hooks = directory_hooks and config_dir is not None
        self._groups = RunningGroups()
        self._runner = runner or functools.partial(run_shell, groups=self._groups)
        self._timeout = timeout
        self._dry_run = dry_run
        self._run_deploy_hooks = run_deploy_hooks
        self._base_env = dict(os.environ if base_env is None else base_env)
        self._state = threading.Lock()  # guards every attribute below
        self._pre_lock = threading.Lock()  # held while pre hooks run
        self._deploy_lock = None if parallel_deploy else threading.Lock()
        self._pre_done: set[str] = set()
        self._post_hooks: list[_Hook] = []
        self._renewed: list[str] = []
        self._failed: list[str] = []
        self._results: list[HookResult] = []
        self._finished = False

    # -- what happened ---------------------------------------------------------------------------

    @property
    def results(self) -> tuple[HookResult, ...]:
        """Every hook run so far, in completion order."""
        with self._state:
            return tuple(self._results)

    @property
    def failures(self) -> tuple[HookResult, ...]:
        """The hook runs that exited non-zero, timed out or could not start."""
        return tuple(r for r in self.results if not r.ok)

    # -- the run ---------------------------------------------------------------------------------

    def before_renewal(
        self, *, pre_hook: str | None = None, post_hook: str | None = None
    ) -> list[HookResult]:
        """Run the pre hooks not yet run in this run and register the post hooks; returns the
        pre hooks this call ran. Blocks while another thread runs pre hooks."""
        with self._state:
            if self._finished:
                raise RuntimeError("HookRunner.finish() already ran; start a new runner")
            for hook in [*self._dir_hooks(HookKind.POST), *self._user_hook(post_hook)]:
                if all(h.key != hook.key for h in self._post_hooks):
                    self._post_hooks.append(hook)
        ran: list[HookResult] = []
        with self._pre_lock:
            for hook in [*self._dir_hooks(HookKind.PRE), *self._user_hook(pre_hook)]:
                with self._state:
                    already = hook.key in self._pre_done
                if already:
                    logger.info("Pre-hook command already run, skipping: %s", hook.key)
                    continue
                ran.append(self._run(HookKind.PRE, hook, {}, None))
                with self._state:
                    self._pre_done.add(hook.key)
        return ran

    def deploy(
        self,
        *,
        lineage_dir: Path | str,
        domains: Sequence[str],
        deploy_hook: str | None = None,
        count_as_renewed: bool = True,
    ) -> list[HookResult]:
        """Record a successful renewal of ``domains`` and run the deploy hooks for it.

        Folder hooks run first, then ``deploy_hook`` unless it names one of them. Skipped (and
        logged) in a dry run without ``run_deploy_hooks``. Returns the results of this call.
        ``count_as_renewed=False`` leaves ``domains`` out of the post hooks' RENEWED_DOMAINS
        (certbot's ``certonly`` counts only a new lineage there).
        """
        if count_as_renewed:
            with self._state:
                self._renewed.extend(domains)
        hooks: list[_Hook] = []
        for hook in [*self._dir_hooks(HookKind.DEPLOY), *self._user_hook(deploy_hook)]:
            if all(h.key != hook.key for h in hooks):
                hooks.append(hook)
            else:
                logger.info("Skipping deploy-hook '%s' as it was already run.", hook.key)
        if self._dry_run and not self._run_deploy_hooks:
            for hook in hooks:
                logger.info("Dry run: skipping deploy hook command: %s", hook.key)
            return []
        env = {"RENEWED_LINEAGE": str(lineage_dir), "RENEWED_DOMAINS": " ".join(domains)}
        # One lineage's deploy hooks run as a block, not interleaved with another's.
        with self._deploy_lock or contextlib.nullcontext():
            return [self._run(HookKind.DEPLOY, hook, env, str(lineage_dir)) for hook in hooks]

    def record_failure(self, domains: Sequence[str]) -> None:
        """Record a failed renewal attempt; its domains go into FAILED_DOMAINS."""
        with self._state:
            self._failed.extend(domains)

    def finish(self) -> list[HookResult]:
        """Run the registered post hooks once each; later calls run nothing and return []."""
        with self._state:
            if self._finished:
                return []
            self._finished = True
            hooks = list(self._post_hooks)
            env = {
                "RENEWED_DOMAINS": _joined(self._renewed, "RENEWED_DOMAINS"),
                "FAILED_DOMAINS": _joined(self._failed, "FAILED_DOMAINS"),
            }
        return [self._run(HookKind.POST, hook, env, None) for hook in hooks]

    def interrupt(self) -> int:
        """End the hooks running now (their whole process groups); returns how many ran. For an
        interrupted run: hooks in worker threads do not see the main thread's Ctrl-C."""
        return self._groups.kill_all()

    async def _in_thread(self, call: Callable[[], list[HookResult]]) -> list[HookResult]:
        try:
            return await asyncio.to_thread(call)
        except asyncio.CancelledError:  # Ctrl-C cancels the run; the thread would go on
            if self.interrupt():
                logger.warning("Interrupted: the running hook was stopped")
            raise

    async def before_renewal_async(
        self, *, pre_hook: str | None = None, post_hook: str | None = None
    ) -> list[HookResult]:
        """:meth:`before_renewal` in a worker thread, for asyncio callers."""
        return await self._in_thread(
            functools.partial(self.before_renewal, pre_hook=pre_hook, post_hook=post_hook)
        )

    async def deploy_async(
        self,
        *,
        lineage_dir: Path | str,
        domains: Sequence[str],
        deploy_hook: str | None = None,
        count_as_renewed: bool = True,
    ) -> list[HookResult]:
        """:meth:`deploy` in a worker thread, for asyncio callers."""
        return await self._in_thread(
            functools.partial(
                self.deploy,
                lineage_dir=lineage_dir,
                domains=domains,
                deploy_hook=deploy_hook,
                count_as_renewed=count_as_renewed,
            )
        )

    async def finish_async(self) -> list[HookResult]:
        """:meth:`finish` in a worker thread, for asyncio callers."""
        return await self._in_thread(self.finish)

    # -- helpers ---------------------------------------------------------------------------------

    def _dir_hooks(self, kind: HookKind) -> list[_Hook]:
        if not self._directory_hooks or self._hooks_root is None:
            return []
        return [_Hook(str(p), shlex.quote(str(p))) for p in list_hook_dir(self._hooks_root / kind)]

    @staticmethod
    def _user_hook(command: str | None) -> list[_Hook]:
        return [_Hook(command, command)] if command and command.strip() else []

    def _run(
        self, kind: HookKind, hook: _Hook, extra_env: Mapping[str, str], lineage: str | None
    ) -> HookResult:
        name = f"{kind}-hook"
        logger.info("Running %s command: %s", name, hook.key)
        env = {**self._base_env, **extra_env}
        try:
            outcome = self._runner(hook.shell, env=env, timeout=self._timeout)
        except Exception as exc:  # an injected runner must not break the whole run
            logger.exception("%s command %s could not be run", name, hook.key)
            outcome = CommandOutcome(None, error=str(exc) or type(exc).__name__)
        outcome = CommandOutcome(
            outcome.returncode,
            outcome.stdout[:_OUTPUT_LIMIT],
            outcome.stderr[:_OUTPUT_LIMIT],
            outcome.timed_out,
            outcome.error,
        )
        _report(name, hook.key, outcome)
        result = HookResult(kind, hook.key, lineage, outcome)
        with self._state:
            self._results.append(result)
        return result


def _report(name: str, command: str, outcome: CommandOutcome) -> None:
    if outcome.error is not None:
        logger.error("Hook '%s' could not run %s: %s", name, command, outcome.error)
    elif outcome.timed_out:
        logger.error("Hook '%s' timed out and was killed: %s", name, command)
    elif outcome.returncode != 0:
        logger.warning("Hook '%s' reported error code %s", name, outcome.returncode)
    out, err = outcome.stdout.strip(), outcome.stderr.strip()
    if out:
        logger.info("Hook '%s' ran with output:\n%s", name, _indent(out))
    if err:
        logger.warning("Hook '%s' ran with error output:\n%s", name, _indent(err))


def _indent(text: str) -> str:
    return "\n".join(" " + line for line in text.splitlines())
