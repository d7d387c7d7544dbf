"""http-01 and dns-01 done by the user or by their scripts (certbot's ``--manual``).

With ``auth_hook`` (``--manual-auth-hook``) each challenge runs the hook through ``/bin/sh -c``
with certbot's variables (names and values as certbot 5 sets them):

    CERTBOT_DOMAIN, CERTBOT_IDENTIFIER   the identifier (a wildcard's base name)
    CERTBOT_VALIDATION                   key authorization (http-01) or TXT value (dns-01)
    CERTBOT_TOKEN                        the token (http-01 only)
    CERTBOT_REMAINING_CHALLENGES         challenges after this one in the batch
    CERTBOT_ALL_DOMAINS, CERTBOT_ALL_IDENTIFIERS   comma-separated identifiers of the batch
    CERTSMITH_TXT_NAME                   the TXT record's owner name (dns-01, dns-account-01)

dns-account-01 (draft-ietf-acme-dns-account-label) is dns-01 at ``_<label>._acme-challenge.<name>``
with the same value: certbot's variables stay as for dns-01, and ``CERTSMITH_TXT_NAME`` (a
certsmith addition) says where the record goes, since a certbot hook assumes ``_acme-challenge``.

``cleanup_hook`` gets the same plus ``CERTBOT_AUTH_OUTPUT``, the auth hook's stripped stdout.
Inherited ``CERTBOT_*`` variables are removed so a hook sees exactly these. Without hooks, the
injected ``show_instructions`` callback is told what to publish, one challenge at a time.

Why the work happens in ``settle`` and not in ``present``: the hook variables describe the whole
batch (how many remain, every identifier), which is only known once every challenge of the
order has been presented. ``present`` records the task; ``settle`` runs the hooks (or shows the
instructions) in the order presented, then checks: for http-01 it fetches the URL as the CA will
(``selfcheck``); for dns-01 it awaits the injected ``wait_for_txt`` with every record expected.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import httpx

from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask, is_safe_token
from certsmith.challenges.dns_account import account_challenge_name
from certsmith.challenges.selfcheck import (
    Resolve,
    SelfCheckFailure,
    describe_failure,
    self_check_http01,
)
from certsmith.errors import SelfCheckFailed, SolverError
from certsmith.wording import said

logger = logging.getLogger(__name__)

SUPPORTED = ("http-01", "dns-01", "dns-account-01")
DNS_TYPES = ("dns-01", "dns-account-01")


def dns01_txt_value(key_authorization: str) -> str:
    """RFC 8555 section 8.4: base64url(SHA-256(key authorization)) without padding."""
    digest = hashlib.sha256(key_authorization.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def base_name(identifier: Identifier) -> str:
    """The identifier without a wildcard's ``*.`` (what certbot calls the domain)."""
    return identifier.value.removeprefix("*.")


def dns01_record_name(identifier: Identifier) -> str:
    """``_acme-challenge.<name>`` (no trailing dot) for a dns identifier, wildcard or not."""
    return f"_acme-challenge.{base_name(identifier).removesuffix('.')}"


def txt_record_name(task: ChallengeTask) -> str:
    """Where a dns-01 or dns-account-01 task's TXT record goes (no trailing dot)."""
    name = dns01_record_name(task.identifier)
    if task.challenge_type != "dns-01":
        if not task.account_url:
            raise SolverError(said("challenge.account_url_missing"))
        name = account_challenge_name(name, task.account_url)
    return name


def http01_url(identifier: Identifier, token: str) -> str:
    """The URL the CA fetches for an http-01 challenge (IPv6 literals in brackets)."""
    host = identifier.value
    if identifier.type == "ip" and ":" in host:
        host = f"[{host}]"
    return f"http://{host}/.well-known/acme-challenge/{token}"


@dataclass(frozen=True)
class ManualInstructions:
    """Exactly what the user must publish for one challenge, and where.

    http-01: serve ``content`` (nothing else) at ``url``. dns-01: a TXT record named
    ``record_name`` holding ``content``. ``subsequent``: earlier challenges must stay in place;
    ``verify_dns``: the last dns-01 of the batch, so the user should check propagation now.
    """

    challenge_type: str
    identifier: Identifier
    content: str
    url: str | None = None
    record_name: str | None = None
    subsequent: bool = False
    verify_dns: bool = False

    def render(self) -> str:
        """The instructions as text for a terminal."""
        if self.challenge_type in DNS_TYPES:
            text = (
                f"Create a DNS TXT record named\n\n    {self.record_name}.\n\n"
                f"with this value:\n\n    {self.content}\n"
            )
        else:
            text = (
                f"Create a file containing only this text:\n\n    {self.content}\n\n"
                f"and make your web server serve it at this URL:\n\n    {self.url}\n"
            )
        if self.subsequent:
            text += (
                "\nKeep the records and files of the earlier challenges in place: all of them "
                "are checked.\n"
            )
            if self.challenge_type in DNS_TYPES:
                text += "(Several TXT records with the same name are allowed.)\n"
        if self.verify_dns:
            text += (
                f"\nBefore you continue, check that the TXT record of {self.record_name} is "
                "visible from the internet; this can take from seconds to minutes.\n"
            )
        return text


class SelfCheckChoice(StrEnum):
    """What to do when the self-check did not see the response (asked of the user, or
    decided for an unattended run)."""

    RETRY = "retry"  # check again (the user fixed something)
    CONTINUE = "continue"  # tell the CA anyway: it may see what this machine cannot
    ABORT = "abort"


ShowInstructions = Callable[[ChallengeTask, ManualInstructions], Awaitable[None]]
WaitForTxt = Callable[[dict[str, set[str]]], Awaitable[None]]
# Told what the self-check saw (and whether a hook published it); says what to do next.
OnSelfCheckFailure = Callable[[SelfCheckFailure, bool], Awaitable[SelfCheckChoice]]
# A person may check again after fixing something; this bounds the loop all the same.
MAX_SELF_CHECKS = 20


async def run_hook(
    command: str, env: Mapping[str, str], *, timeout: float, what: str
) -> tuple[str, str]:
    """Run ``command`` through ``/bin/sh -c`` with exactly ``env``; return (stdout, stderr).

    Raises ``SolverError`` when it exits non-zero or outlives ``timeout`` seconds (then its
    whole process group is killed).
    """
    proc = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        command,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out_bytes, err_bytes = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.communicate(), 5.0)
        seconds = f"{timeout:g}"
        why = said("manual.hook.timeout", what=what, seconds=seconds, command=command)
        raise SolverError(why) from None
    stdout = out_bytes.decode("utf-8", errors="replace")
    stderr = err_bytes.decode("utf-8", errors="replace")
    if stdout.strip():
        logger.info("%s said: %s", what, stdout.strip())
    if stderr.strip():
        logger.warning("%s reported: %s", what, stderr.strip())
    if proc.returncode != 0:
        code, said_err = proc.returncode, stderr.strip()[-300:]
        raise SolverError(
            said("manual.hook.failed_said", what=what, code=code, command=command, stderr=said_err)
            if stderr.strip()
            else said("manual.hook.failed", what=what, code=code, command=command)
        )
    return stdout, stderr


class ManualSolver:
    """A ``Solver`` for http-01 and dns-01 through hooks or the user (certbot ``--manual``).

    ``challenge_type`` is the type this solver is offered for; it accepts tasks of both
    supported types so one instance can span a mixed order, as certbot's plugin does.
    Either ``auth_hook`` or ``show_instructions`` is required.
    """

    def __init__(
        self,
        *,
        challenge_type: str = "http-01",
        auth_hook: str | None = None,
        cleanup_hook: str | None = None,
        show_instructions: ShowInstructions | None = None,
        wait_for_txt: WaitForTxt | None = None,
        hook_timeout: float = 600.0,
        base_env: Mapping[str, str] | None = None,
        self_check: bool = True,
        self_check_transport: httpx.AsyncBaseTransport | None = None,
        self_check_resolve: Resolve | None = None,
        self_check_timeout: float = 10.0,
        on_self_check_failure: OnSelfCheckFailure | None = None,
    ) -> None:
        """``on_self_check_failure``: asked when the self-check of an http-01 URL fails; without
        it a failed self-check stops the run (``SelfCheckFailed``)."""
        if challenge_type not in SUPPORTED:
            raise SolverError(said("manual.cannot_answer", kind=challenge_type))
        if auth_hook is None and show_instructions is None:
            raise SolverError(said("manual.needs_hook"))
        self._type = challenge_type
        self._auth_hook = auth_hook
        self._cleanup_hook = cleanup_hook
        self._show = show_instructions
        self._wait_for_txt = wait_for_txt
        self._hook_timeout = hook_timeout
        self._base_env = base_env  # None: the process environment at the time a hook runs
        self._self_check = self_check
        self._transport = self_check_transport
        self._resolve = self_check_resolve
        self._check_timeout = self_check_timeout
        self._on_failure = on_self_check_failure
        self._pending: list[ChallengeTask] = []
        self._performed: dict[ChallengeTask, dict[str, str]] = {}
        self._shown_any = False

    @property
    def challenge_type(self) -> str:
        return self._type

    async def present(self, task: ChallengeTask) -> None:
        """Record ``task`` for ``settle``; validates it, publishes nothing yet (see module doc)."""
        if task.challenge_type not in SUPPORTED:
            raise SolverError(said("manual.cannot_answer", kind=task.challenge_type))
        name = str(task.identifier)
        if not is_safe_token(task.token):
            raise SolverError(said("challenge.unsafe_token_any", token=repr(task.token[:40])))
        if task.challenge_type == "http-01" and task.identifier.is_wildcard:
            raise SolverError(said("challenge.no_wildcard", kind="http-01", name=name))
        if task.challenge_type in DNS_TYPES and task.identifier.type != "dns":
            raise SolverError(said("challenge.dns_no_ip", name=name))
        if task.challenge_type in DNS_TYPES:
            txt_record_name(task)  # a dns-account-01 task needs the account's URL
        if task not in self._pending and task not in self._performed:
            self._pending.append(task)

    async def settle(self, tasks: list[ChallengeTask]) -> None:
        """Publish every presented task (hooks or instructions), then check ``tasks``."""
        for task in tasks:
            await self.present(task)
        batch, self._pending = self._pending, []
        for index, task in enumerate(batch):
            if self._auth_hook is not None:
                await self._run_auth_hook(task, batch, index)
            else:
                await self._show_instructions(task, batch, index)
        await self._check(tasks)

    async def cleanup(self, task: ChallengeTask) -> None:
        """Run the cleanup hook for a task whose auth hook ran; never raises (logs instead)."""
        if task in self._pending:
            self._pending.remove(task)
        env = self._performed.pop(task, None)
        if env is None or self._cleanup_hook is None:
            return
        what = said("manual.hook.cleanup", name=str(task.identifier))
        try:
            await run_hook(self._cleanup_hook, env, timeout=self._hook_timeout, what=what)
        except (SolverError, OSError) as exc:
            logger.error("%s failed: %s", what, exc)

    # -- publishing ------------------------------------------------------------------------

    @staticmethod
    def validation(task: ChallengeTask) -> str:
        """What the CA checks: the key authorization (http-01) or the TXT value (dns-01)."""
        if task.challenge_type in DNS_TYPES:
            return dns01_txt_value(task.key_authorization)
        return task.key_authorization

    def hook_env(
        self, task: ChallengeTask, batch: list[ChallengeTask], index: int
    ) -> dict[str, str]:
        """The auth hook's environment: the base environment minus ``CERTBOT_*``, plus ours."""
        base = os.environ if self._base_env is None else self._base_env
        env = {k: v for k, v in base.items() if not k.startswith(("CERTBOT_", "CERTSMITH_TXT"))}
        every = ",".join(base_name(t.identifier) for t in batch)
        env.update(
            CERTBOT_DOMAIN=base_name(task.identifier),
            CERTBOT_IDENTIFIER=base_name(task.identifier),
            CERTBOT_VALIDATION=self.validation(task),
            CERTBOT_ALL_DOMAINS=every,
            CERTBOT_ALL_IDENTIFIERS=every,
            CERTBOT_REMAINING_CHALLENGES=str(len(batch) - index - 1),
        )
        if task.challenge_type == "http-01":
            env["CERTBOT_TOKEN"] = task.token
        else:
            env["CERTSMITH_TXT_NAME"] = txt_record_name(task)
        return env

    async def _run_auth_hook(
        self, task: ChallengeTask, batch: list[ChallengeTask], index: int
    ) -> None:
        assert self._auth_hook is not None
        env = self.hook_env(task, batch, index)
        what = said("manual.hook.auth", name=str(task.identifier))
        try:
            stdout, _ = await run_hook(self._auth_hook, env, timeout=self._hook_timeout, what=what)
        except OSError as exc:
            raise SolverError(said("manual.hook.not_started", what=what, reason=exc)) from exc
        finally:
            # Even a failed hook may have published something: let cleanup run for it.
            self._performed[task] = {**env, "CERTBOT_AUTH_OUTPUT": ""}
        self._performed[task]["CERTBOT_AUTH_OUTPUT"] = stdout.strip()

    async def _show_instructions(
        self, task: ChallengeTask, batch: list[ChallengeTask], index: int
    ) -> None:
        assert self._show is not None
        is_dns = task.challenge_type in DNS_TYPES
        last_dns = max(
            (i for i, t in enumerate(batch) if t.challenge_type in DNS_TYPES), default=-1
        )
        instructions = ManualInstructions(
            challenge_type=task.challenge_type,
            identifier=task.identifier,
            content=self.validation(task),
            url=None if is_dns else http01_url(task.identifier, task.token),
            record_name=txt_record_name(task) if is_dns else None,
            subsequent=self._shown_any,
            verify_dns=is_dns and index == last_dns,
        )
        # Recorded before waiting: Ctrl-C at "Press Enter" still runs the cleanup hook, with
        # the variables certbot gives it.
        self._performed[task] = {**self.hook_env(task, batch, index), "CERTBOT_AUTH_OUTPUT": ""}
        self._shown_any = True
        await self._show(task, instructions)

    # -- checking --------------------------------------------------------------------------

    async def _check(self, tasks: list[ChallengeTask]) -> None:
        if self._self_check:
            for task in tasks:
                if task.challenge_type == "http-01":
                    await self._check_http01(task)
        records: dict[str, set[str]] = {}
        for task in tasks:
            if task.challenge_type in DNS_TYPES:
                name = txt_record_name(task)
                records.setdefault(name, set()).add(dns01_txt_value(task.key_authorization))
        if records and self._wait_for_txt is not None:
            await self._wait_for_txt(records)

    async def _check_http01(self, task: ChallengeTask) -> None:
        """Fetch the URL as the CA will; on a miss, ask ``on_self_check_failure`` what to do.
        A home server behind a router without NAT loopback cannot fetch its own public URL
        although the CA can, so a miss is a question, not the end of the run."""
        url = http01_url(task.identifier, task.token)
        for _attempt in range(MAX_SELF_CHECKS):
            failure = await self_check_http01(
                url,
                task.key_authorization,
                transport=self._transport,
                resolve=self._resolve,
                timeout=self._check_timeout,
            )
            if failure is None:
                return
            seen = describe_failure(failure)
            logger.warning("self-check of %s failed: %s", url, seen)
            if self._on_failure is None:
                choice = SelfCheckChoice.ABORT
            else:
                choice = await self._on_failure(failure, self._auth_hook is not None)
            if choice is SelfCheckChoice.CONTINUE:
                logger.warning("self-check of %s failed; asking the CA anyway", url)
                return
            if choice is SelfCheckChoice.ABORT:
                break
        raise SelfCheckFailed(said("selfcheck.failed", url=url, seen=seen), url=url, seen=seen)
