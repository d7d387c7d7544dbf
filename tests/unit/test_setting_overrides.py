"""SettingOverrides: one spelling per setting, from the flag to the renewal conf."""

from __future__ import annotations

import dataclasses
import typing

from certsmith.renewal.settings import LineageSettings, SettingOverrides


def _hints(cls: type) -> dict[str, typing.Any]:
    return typing.get_type_hints(cls)


def test_every_override_has_the_name_and_type_of_a_lineage_setting() -> None:
    settings, overrides = _hints(LineageSettings), _hints(SettingOverrides)
    unknown = set(overrides) - set(settings)
    assert unknown == set()
    for name, hint in overrides.items():
        stored = settings[name]
        assert hint == typing.Optional[stored], name  # noqa: UP045 (a runtime type)


def test_every_lineage_setting_a_user_chooses_can_be_overridden() -> None:
    # Derived from the conf, never from a flag: the plugin spelling and unknown keys.
    derived = {"written_as"}
    names = {f.name for f in dataclasses.fields(LineageSettings)} - derived
    assert names == {f.name for f in dataclasses.fields(SettingOverrides)}


def test_given_values_win_and_missing_ones_keep_the_stored_setting() -> None:
    stored = LineageSettings(server="https://ca.example/dir", reuse_key=True, http01_port=8080)
    result = SettingOverrides(reuse_key=False, preferred_challenges=("dns-01",)).apply(stored)
    assert result.reuse_key is False  # False is a value, not "not given"
    assert result.preferred_challenges == ("dns-01",)
    assert result.server == "https://ca.example/dir"
    assert result.http01_port == 8080


def test_merged_overrides_take_the_later_given_values() -> None:
    first = SettingOverrides(server="https://a.example/dir", key_type="rsa")
    merged = first.merged(SettingOverrides(key_type="ecdsa"))
    assert (merged.server, merged.key_type) == ("https://a.example/dir", "ecdsa")


def test_extra_plugin_options_are_merged_not_replaced() -> None:
    stored = LineageSettings(extra={"nginx_server_root": "/etc/nginx", "nginx_ctl": "nginx"})
    result = SettingOverrides(extra={"nginx_ctl": "/usr/sbin/nginx"}).apply(stored)
    assert result.extra == {"nginx_server_root": "/etc/nginx", "nginx_ctl": "/usr/sbin/nginx"}
