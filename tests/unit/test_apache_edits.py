"""The apache installer's edits, checkpoints and failure paths with a scripted apachectl.

The real apache2 runs in tests/integration/test_apache_installer.py and test_apache_corpus.py;
here ``apachectl`` is a recorded fake so every failure can be forced.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask
from certsmith.errors import SolverError
from certsmith.installers import checkpoint_store, config_changes
from certsmith.installers.apache.installer import ApacheInstaller
from certsmith.installers.apache.layout import ApacheOptions, Ctl
from certsmith.installers.apache.solver import ApacheHttp01Solver
from certsmith.renewal.install import InstallError

SITE = "<VirtualHost *:80>\n    ServerName a.test\n    DocumentRoot /var/www\n</VirtualHost>\n"


class FakeCtl:
    """Answers ``-t`` with ``test_result`` and records every call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.test_result = (0, "Syntax OK")
        self.graceful_result = (0, "")

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(argv[1:])
        code, said = self.test_result if argv[1:] == ["-t"] else self.graceful_result
        return subprocess.CompletedProcess(argv, code, "", said)


def debian_root(root: Path, site: str = SITE, ssl_loaded: bool = False) -> Path:
    for folder in ("mods-available", "mods-enabled", "sites-available", "sites-enabled"):
        (root / folder).mkdir(parents=True)
    for module, depends in (("ssl", "socache_shmcb"), ("socache_shmcb", ""), ("rewrite", ""),
                            ("headers", "")):  # fmt: skip
        head = f"# Depends: {depends}\n" if depends else ""
        load = f"{head}LoadModule {module}_module /usr/lib/apache2/modules/mod_{module}.so\n"
        (root / "mods-available" / f"{module}.load").write_text(load)
    (root / "mods-available" / "ssl.conf").write_text("SSLRandomSeed startup builtin\n")
    if ssl_loaded:
        for name in ("ssl.load", "socache_shmcb.load"):
            (root / "mods-enabled" / name).symlink_to(f"../mods-available/{name}")
    (root / "apache2.conf").write_text(
        "IncludeOptional mods-enabled/*.load\nIncludeOptional mods-enabled/*.conf\n"
        "Listen 80\nIncludeOptional sites-enabled/*.conf\n"
    )
    (root / "sites-available" / "a.conf").write_text(site)
    (root / "sites-enabled" / "a.conf").symlink_to("../sites-available/a.conf")
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): str(p.readlink()).encode() if p.is_symlink() else p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_symlink() or p.is_file()
    }


def make(tmp_path: Path, ctl: FakeCtl, **extra: str) -> ApacheInstaller:
    options = {
        "apache_server_root": str(tmp_path / "apache"),
        "apache_ctl": "apachectl",
        "config_dir": str(tmp_path / "le"),
        "work_dir": str(tmp_path / "work"),
        **extra,
    }
    parsed = ApacheOptions.from_mapping(options)
    return ApacheInstaller(parsed, checkpoint_store(options), Ctl("apachectl", run=ctl))


def live(tmp_path: Path) -> dict[str, Path]:
    return {k: tmp_path / "le" / "live" / "a.test" / f"{k}.pem" for k in ("fullchain", "privkey")}


def test_deploy_adds_an_ssl_copy_enables_it_and_mod_ssl_as_a2ensite_and_a2enmod(
    tmp_path: Path,
) -> None:
    root = debian_root(tmp_path / "apache")
    ctl = FakeCtl()
    make(tmp_path, ctl).deploy("a.test", ["a.test"], live(tmp_path))
    text = (root / "sites-available" / "a-le-ssl.conf").read_text()
    assert "<VirtualHost *:443>" in text and "Listen 443" in text
    assert f"SSLCertificateFile {live(tmp_path)['fullchain']}" in text
    assert (root / "sites-enabled" / "a-le-ssl.conf").readlink() == Path(
        "../sites-available/a-le-ssl.conf"
    )
    for name in ("ssl.load", "ssl.conf", "socache_shmcb.load"):  # with its Depends:
        assert (root / "mods-enabled" / name).readlink() == Path(f"../mods-available/{name}")
    assert (tmp_path / "le" / "options-ssl-apache.conf").read_text().count("SSLProtocol") == 1
    assert ctl.calls == [["-t"]]  # tested, not reloaded (the engine reloads once per run)


def test_a_failed_configtest_restores_every_file_and_link_byte_for_byte(tmp_path: Path) -> None:
    root = debian_root(tmp_path / "apache")
    before = snapshot(root)
    ctl = FakeCtl()
    ctl.test_result = (1, "AH00526: Syntax error on line 3")
    with pytest.raises(InstallError, match=r"AH00526.*line 3"):
        make(tmp_path, ctl).deploy("a.test", ["a.test"], live(tmp_path))
    assert snapshot(root) == before
    assert not (tmp_path / "le" / "options-ssl-apache.conf").exists()
    assert config_changes({"config_dir": str(tmp_path / "le")}) == []


def test_an_existing_ssl_vhost_gets_its_certificate_lines_replaced_in_place(
    tmp_path: Path,
) -> None:
    site = (
        "<VirtualHost *:443>\n  ServerName a.test\n  SSLEngine on\n"
        '  SSLCertificateFile "/old/cert.pem"   \n  SSLCertificateChainFile /old/chain.pem\n'
        "  SSLCertificateKeyFile /old/key.pem\n</VirtualHost>\n"
    )
    root = debian_root(tmp_path / "apache", site, ssl_loaded=True)
    installer = make(tmp_path, FakeCtl())
    installer.deploy("a.test", ["a.test"], live(tmp_path))
    paths = live(tmp_path)
    assert (root / "sites-available" / "a.conf").read_text() == (
        f"<VirtualHost *:443>\n  ServerName a.test\n  SSLEngine on\n"
        f"  SSLCertificateFile {paths['fullchain']}\n"
        f"  SSLCertificateKeyFile {paths['privkey']}\n</VirtualHost>\n"
    )
    installer.deploy("a.test", ["a.test"], paths)  # again: nothing to change, no checkpoint
    assert len(config_changes({"config_dir": str(tmp_path / "le")})) == 1


def test_without_module_handling_a_missing_mod_ssl_is_an_error_and_nothing_changes(
    tmp_path: Path,
) -> None:
    root = debian_root(tmp_path / "apache")
    before = snapshot(root)
    installer = make(tmp_path, FakeCtl(), apache_handle_modules="False")
    with pytest.raises(InstallError, match="ssl are not enabled"):
        installer.deploy("a.test", ["a.test"], live(tmp_path))
    assert snapshot(root) == before


def test_a_name_no_vhost_serves_is_a_clear_error(tmp_path: Path) -> None:
    debian_root(tmp_path / "apache", ssl_loaded=True)
    with pytest.raises(InstallError, match=r"serves b\.test: add ServerName b\.test"):
        make(tmp_path, FakeCtl()).deploy("b.test", ["b.test"], live(tmp_path))


def test_an_unparsable_configuration_is_an_install_error_without_edits(tmp_path: Path) -> None:
    root = debian_root(tmp_path / "apache", "<VirtualHost *:80>\nServerName a.test\n")
    before = snapshot(root)
    with pytest.raises(InstallError, match="never closed"):
        make(tmp_path, FakeCtl()).deploy("a.test", ["a.test"], live(tmp_path))
    assert snapshot(root) == before


def test_redirect_skips_the_acme_path_and_is_not_added_twice(tmp_path: Path) -> None:
    root = debian_root(tmp_path / "apache")
    installer = make(tmp_path, FakeCtl())
    installer.enhance(["a.test"], ["redirect"])
    installer.enhance(["a.test"], ["redirect"])
    text = (root / "sites-available" / "a.conf").read_text()
    assert text.count("RewriteRule ^ https://%{SERVER_NAME}%{REQUEST_URI}") == 1
    assert r"RewriteCond %{REQUEST_URI} !^/\.well-known/acme-challenge/" in text
    assert (root / "mods-enabled" / "rewrite.load").is_symlink()
    with pytest.raises(InstallError, match="'staple-ocsp'"):
        installer.enhance(["a.test"], ["staple-ocsp"])


def test_rollback_of_a_checkpoint_puts_back_the_files_it_changed(tmp_path: Path) -> None:
    root = debian_root(tmp_path / "apache")
    before = snapshot(root)
    installer = make(tmp_path, FakeCtl())
    installer.deploy("a.test", ["a.test"], live(tmp_path))
    installer.enhance(["a.test"], ["redirect", "hsts"])
    store = checkpoint_store({"config_dir": str(tmp_path / "le")})
    assert [i.note.split()[0] for i in store.list()] == ["install", "redirect", "hsts"]
    store.restore_last(3, server="apache")
    assert snapshot(root) == before


def task(token: str, name: str = "a.test") -> ChallengeTask:
    return ChallengeTask(Identifier.dns(name), "http-01", token, f"{token}.thumb")


async def test_the_solver_refuses_hostile_tokens_before_touching_anything(tmp_path: Path) -> None:
    debian_root(tmp_path / "apache")
    solver = make(tmp_path, FakeCtl()).http01_solver()
    with pytest.raises(SolverError, match="unsafe"):
        await solver.present(task("../../etc/passwd"))
    assert not (tmp_path / "work").exists()


async def test_the_solver_includes_its_folder_first_in_the_vhost_and_removes_it_after(
    tmp_path: Path,
) -> None:
    root = debian_root(tmp_path / "apache")
    before = snapshot(root)
    ctl = FakeCtl()
    solver = ApacheHttp01Solver(make(tmp_path, ctl), serve_timeout=0.0, sleep=lambda s: None)
    await solver.present(task("tok1"))
    await solver.settle([task("tok1")])
    site = (root / "sites-available" / "a.conf").read_text().splitlines()
    assert site[1].startswith("    IncludeOptional ") and site[1].endswith("/*.conf")
    (folder,) = (tmp_path / "work" / "http_challenges").iterdir()
    assert (folder / "responses" / "tok1").read_text() == "tok1.thumb"
    assert (folder / "responses" / "tok1").stat().st_mode & 0o777 == 0o644
    assert ctl.calls == [["-t"], ["-k", "graceful"]]

    ctl.graceful_result = (1, "not running")  # cleanup never raises, and still restores
    await solver.cleanup(task("tok1"))
    assert snapshot(root) == before
    assert list((tmp_path / "work" / "http_challenges").iterdir()) == []


async def test_the_solver_restores_the_vhost_when_configtest_rejects_it(tmp_path: Path) -> None:
    root = debian_root(tmp_path / "apache")
    before = snapshot(root)
    ctl = FakeCtl()
    ctl.test_result = (1, "AH00526: broken elsewhere")
    solver = ApacheHttp01Solver(make(tmp_path, ctl), serve_timeout=0.0, sleep=lambda s: None)
    await solver.present(task("tok1"))
    with pytest.raises(SolverError, match="broken elsewhere"):
        await solver.settle([task("tok1")])
    assert snapshot(root) == before
    assert ["-k", "graceful"] not in ctl.calls
    await solver.cleanup(task("tok1"))
