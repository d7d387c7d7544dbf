"""The nginx installer without nginx: name matching, offsets, minimal edits, rollback paths.

``nginx -t`` and ``nginx -s reload`` go through an injected runner, so these tests see the
exact commands and can make the test fail; tests/integration/test_nginx_installer.py and
test_nginx_corpus.py run the real nginx.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask
from certsmith.errors import SolverError
from certsmith.installers.checkpoints import Checkpoints
from certsmith.installers.nginx.installer import NginxInstaller, NginxOptions
from certsmith.installers.nginx.parse import Listen, best_match, load_config, parse_listen
from certsmith.installers.nginx.spans import parse_spans
from certsmith.renewal.install import InstallError

SITE = """\
# a comment that must survive
server {
    listen 80;
    listen [::]:80;
    server_name shop.test www.shop.test;   # names
    root /srv/shop;
    location / { try_files $uri =404; }
}
"""


class FakeNginx:
    def __init__(self, test_status: int = 0) -> None:
        self.commands: list[list[str]] = []
        self.test_status = test_status

    def __call__(self, argv: Sequence[str]) -> tuple[int, str]:
        self.commands.append(list(argv))
        if "-t" in argv and self.test_status:
            return self.test_status, 'nginx: [emerg] unknown directive "oops" in x.conf:3'
        return 0, ""


def make_root(tmp_path: Path, sites: dict[str, str]) -> Path:
    root = tmp_path / "nginx"
    (root / "sites-enabled").mkdir(parents=True)
    (root / "nginx.conf").write_text("events { }\nhttp {\n    include sites-enabled/*;\n}\n")
    for name, text in sites.items():
        (root / "sites-enabled" / name).write_text(text)
    return root


def installer(tmp_path: Path, root: Path, fake: FakeNginx) -> NginxInstaller:
    options = NginxOptions(root, "nginx", 0.0, 80, 443, tmp_path / "le")
    return NginxInstaller(
        options, Checkpoints(tmp_path / "le" / "cp"), run=fake, sleep=lambda s: None
    )


LIVE = {
    "fullchain": Path("/le/live/shop/fullchain.pem"),
    "privkey": Path("/le/live/shop/privkey.pem"),
}


def test_listen_forms_are_read_as_nginx_reads_them() -> None:
    assert parse_listen(("80",)) == Listen("", 80, False, False)
    assert parse_listen(("[::]:443", "ssl", "default_server")) == Listen("[::]", 443, True, True)
    assert parse_listen(("127.0.0.1:8080",)) == Listen("127.0.0.1", 8080, False, False)
    assert parse_listen(("*:80", "default")) == Listen("", 80, False, True)
    assert parse_listen(("127.0.0.1",)) == Listen("127.0.0.1", 80, False, False)
    assert parse_listen(("unix:/run/x.sock",)) is None
    assert parse_listen(("443", "quic")) is None


def test_names_match_in_nginx_order_exact_then_wildcards_then_first_regex(tmp_path: Path) -> None:
    root = make_root(
        tmp_path,
        {
            "s": """
server { server_name ~^(?<sub>.+)\\.example\\.com$; }
server { server_name *.example.com; }
server { server_name *.shop.example.com; }
server { server_name www.*; }
server { server_name WWW.Example.com; }
server { server_name ~^api\\.; }
"""
        },
    )
    servers = load_config(root / "nginx.conf").servers

    def line_of(name: str) -> int | None:
        block = best_match(servers, name)
        return block.line if block else None

    assert line_of("www.example.com") == 6  # exact, case-insensitive
    assert line_of("a.shop.example.com") == 4  # longest leading wildcard
    assert line_of("x.example.com") == 3
    assert line_of("www.other.org") == 5  # trailing wildcard
    assert line_of("api.other.org") == 7  # the only regex that matches
    assert line_of("nothing.org") is None


def test_offsets_agree_with_crossplane_and_survive_quoted_braces() -> None:
    text = 'server {\n  return 200 "a { b } ; c";\n  set $x ${y}z;\n}\n'
    (server,) = parse_spans(text)
    assert [c.name for c in server.children] == ["return", "set"]
    assert text[server.children[0].start : server.children[0].end] == 'return 200 "a { b } ; c";'
    assert server.children[1].line == 3
    with pytest.raises(InstallError, match="unexpected end of file"):
        parse_spans("server {\n listen 80;\n")


def test_deploy_adds_a_tls_copy_and_keeps_every_original_byte(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"shop": SITE})
    fake = FakeNginx()

    installer(tmp_path, root, fake).deploy("shop", ["www.shop.test"], LIVE)

    new = (root / "sites-enabled" / "shop").read_text()
    assert new.startswith(SITE)  # the original block is untouched, the copy follows it
    added = new[len(SITE) :]
    assert "listen 443 ssl; # managed by certsmith" in added
    assert "listen [::]:443 ssl; # managed by certsmith" in added
    assert "ssl_certificate /le/live/shop/fullchain.pem;" in added
    assert "server_name shop.test www.shop.test;   # names" in added
    assert "listen 80" not in added
    assert fake.commands == [["nginx", "-c", str(root / "nginx.conf"), "-t"]]
    assert (tmp_path / "le" / "certsmith-options-ssl-nginx.conf").read_text().startswith("#")


def test_deploy_repoints_an_existing_tls_block_in_place(tmp_path: Path) -> None:
    tls = (
        "server {\n  listen 443 ssl;\n  server_name shop.test;\n"
        "  ssl_certificate /old/c.pem; # old\n  ssl_certificate_key /old/k.pem;\n}\n"
    )
    root = make_root(tmp_path, {"shop": tls})

    installer(tmp_path, root, FakeNginx()).deploy("shop", ["shop.test"], LIVE)

    assert (root / "sites-enabled" / "shop").read_text() == tls.replace(
        "ssl_certificate /old/c.pem;",
        "ssl_certificate /le/live/shop/fullchain.pem;",  # the comment after it stays
    ).replace(
        "ssl_certificate_key /old/k.pem;",
        "ssl_certificate_key /le/live/shop/privkey.pem; # managed by certsmith",
    )


def test_a_failed_nginx_test_restores_every_file_byte_for_byte(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"shop": SITE})
    fake = FakeNginx(test_status=1)
    nginx_installer = installer(tmp_path, root, fake)

    with pytest.raises(InstallError, match='unknown directive "oops"'):
        nginx_installer.deploy("shop", ["shop.test"], LIVE)

    assert (root / "sites-enabled" / "shop").read_text() == SITE
    assert not (tmp_path / "le" / "certsmith-options-ssl-nginx.conf").exists()
    assert nginx_installer.checkpoints.list() == []


def test_a_name_no_block_serves_is_refused_before_any_edit(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"shop": SITE})
    fake = FakeNginx()

    with pytest.raises(InstallError, match=r"No nginx server block has server_name other\.test"):
        installer(tmp_path, root, fake).deploy("shop", ["other.test"], LIVE)

    assert fake.commands == []
    assert (root / "sites-enabled" / "shop").read_text() == SITE


def test_an_unparsable_config_is_refused_with_its_file_and_line(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"shop": SITE + "server {\n"})

    with pytest.raises(InstallError, match="cannot be parsed"):
        installer(tmp_path, root, FakeNginx()).deploy("shop", ["shop.test"], LIVE)


def test_redirect_exempts_acme_challenges_and_is_not_added_twice(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"shop": SITE})
    nginx_installer = installer(tmp_path, root, FakeNginx())

    nginx_installer.enhance(["shop.test"], ["redirect"])
    once = (root / "sites-enabled" / "shop").read_text()
    nginx_installer.enhance(["shop.test"], ["redirect"])

    assert (root / "sites-enabled" / "shop").read_text() == once
    lines = once.splitlines()
    top = lines.index("server {")
    assert lines[top + 1].startswith("    rewrite ^(/\\.well-known/acme-challenge/.*)$ $1 break;")
    assert lines[top + 2].startswith("    return 301 https://$host$request_uri;")
    assert len(nginx_installer.checkpoints.list()) == 1


def task(token: str, name: str = "shop.test") -> ChallengeTask:
    return ChallengeTask(Identifier.dns(name), "http-01", token, f"{token}.thumbprint_x")


async def test_http01_serves_through_the_block_then_restores_it(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"shop": SITE})
    fake = FakeNginx()
    solver = installer(tmp_path, root, fake).http01_solver()
    tasks = [task("tok_A"), task("tok-B", "new.test")]

    for t in tasks:
        await solver.present(t)
    await solver.settle(tasks)

    snippet = (root / "certsmith-acme-challenge.conf").read_text()
    assert (
        "location = /.well-known/acme-challenge/tok_A "
        '{ default_type text/plain; return 200 "tok_A.thumbprint_x"; }' in snippet
    )
    assert (
        f"include {root / 'certsmith-acme-challenge.conf'};"
        in (root / "sites-enabled" / "shop").read_text()
    )
    servers = (root / "certsmith-acme-challenge-servers.conf").read_text()
    assert "server_name new.test;" in servers and "listen [::]:80;" in servers
    assert fake.commands[-1][-2:] == ["-s", "reload"]

    for t in tasks:
        await solver.cleanup(t)

    assert (root / "sites-enabled" / "shop").read_text() == SITE
    assert (
        root / "nginx.conf"
    ).read_text() == "events { }\nhttp {\n    include sites-enabled/*;\n}\n"
    assert not (root / "certsmith-acme-challenge.conf").exists()
    assert not (root / "certsmith-acme-challenge-servers.conf").exists()
    assert fake.commands[-1][-2:] == ["-s", "reload"]


async def test_http01_refuses_a_hostile_token_before_touching_nginx(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"shop": SITE})
    fake = FakeNginx()
    solver = installer(tmp_path, root, fake).http01_solver()

    with pytest.raises(SolverError, match="unsafe"):
        await solver.present(task('x"; return 200 "pwned'))

    assert fake.commands == []


async def test_http01_restores_the_config_when_nginx_rejects_it(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"shop": SITE})
    solver = installer(tmp_path, root, FakeNginx(test_status=1)).http01_solver()
    await solver.present(task("tok"))

    with pytest.raises(SolverError, match="could not serve"):
        await solver.settle([task("tok")])

    assert (root / "sites-enabled" / "shop").read_text() == SITE
    assert not (root / "certsmith-acme-challenge.conf").exists()


class RefusingReload(FakeNginx):
    """``nginx -t`` passes; the first ``reloads_refused`` reloads fail."""

    def __init__(self, reloads_refused: int) -> None:
        super().__init__()
        self.reloads_refused = reloads_refused

    def __call__(self, argv: Sequence[str]) -> tuple[int, str]:
        super().__call__(argv)
        if argv[-2:] == ["-s", "reload"] and self.reloads_refused > 0:
            self.reloads_refused -= 1
            return 1, 'nginx: [emerg] cannot load certificate "/le/live/shop/fullchain.pem"'
        return 0, ""


def test_a_refused_reload_undoes_the_deploy_and_reloads_the_old_config(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"shop": SITE})
    fake = RefusingReload(reloads_refused=1)
    nginx_installer = installer(tmp_path, root, fake)
    nginx_installer.deploy("shop", ["shop.test"], LIVE)
    nginx_installer.enhance(["shop.test"], ["hsts"])

    with pytest.raises(InstallError, match="cannot load certificate") as raised:
        nginx_installer.reload()

    assert "undid its changes (deploy shop for shop.test; hsts for shop.test)" in str(raised.value)
    assert "reloaded with the previous configuration" in str(raised.value)
    assert (root / "sites-enabled" / "shop").read_text() == SITE
    assert not (tmp_path / "le" / "certsmith-options-ssl-nginx.conf").exists()
    assert nginx_installer.checkpoints.list() == []
    assert [c[-2:] for c in fake.commands[-2:]] == [["-s", "reload"], ["-s", "reload"]]


def test_a_reload_refused_twice_says_the_old_config_did_not_reload_either(
    tmp_path: Path,
) -> None:
    root = make_root(tmp_path, {"shop": SITE})
    nginx_installer = installer(tmp_path, root, RefusingReload(reloads_refused=2))
    nginx_installer.deploy("shop", ["shop.test"], LIVE)

    with pytest.raises(InstallError, match="reloading the previous configuration failed too"):
        nginx_installer.reload()

    assert (root / "sites-enabled" / "shop").read_text() == SITE


def test_a_reload_after_a_successful_one_undoes_nothing(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"shop": SITE})
    fake = RefusingReload(reloads_refused=0)
    nginx_installer = installer(tmp_path, root, fake)
    nginx_installer.deploy("shop", ["shop.test"], LIVE)
    nginx_installer.reload()
    installed = (root / "sites-enabled" / "shop").read_text()
    fake.reloads_refused = 1

    with pytest.raises(InstallError, match="cannot load certificate") as raised:
        nginx_installer.reload()

    assert "undid" not in str(raised.value)
    assert (root / "sites-enabled" / "shop").read_text() == installed
    assert len(nginx_installer.checkpoints.list()) == 1


def test_deploying_the_same_live_paths_again_edits_nothing(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"shop": SITE})
    fake = FakeNginx()
    nginx_installer = installer(tmp_path, root, fake)
    nginx_installer.deploy("shop", ["shop.test"], LIVE)
    commands = len(fake.commands)

    nginx_installer.deploy("shop", ["shop.test"], LIVE)  # a renewal: live/ paths unchanged

    assert len(nginx_installer.checkpoints.list()) == 1
    assert len(fake.commands) == commands  # not even nginx -t
