"""Settings precedence: explicit > CRISPML_* environment > crispml.toml > defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crispml.core.config import Settings, describe_settings, load_settings
from crispml.core.errors import InvalidArgument

#: For each string setting: a value per source, so the winner is visible.
LAYERED = {
    "db_url": ("sqlite:////toml/meta.db", "sqlite:////env/meta.db", "sqlite:////explicit/meta.db"),
    "lake_url": ("file:///toml/lake", "file:///env/lake", "s3://explicit/lake"),
    "s3_endpoint_url": ("http://toml:9000", "http://env:9000", "http://explicit:9000"),
    "s3_access_key_id": ("TOMLKEY", "ENVKEY", "EXPLICITKEY"),
    "s3_region": ("eu-west-1", "eu-central-1", "ap-south-1"),
    "principal": ("toml-user", "env-user", "explicit-user"),
}


def _value(settings: Settings, name: str) -> Any:
    return getattr(settings, name)


def _write_toml(path: Path, values: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{k} = {v!r}".replace("'", '"') if isinstance(v, str) else f"{k} = {str(v).lower()}"
             for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_defaults_derive_from_home(tmp_path: Path) -> None:
    s = load_settings(environ={}, home=str(tmp_path / "h"))
    home = (tmp_path / "h").resolve()
    assert s.home == home
    assert s.db_url == f"sqlite:///{home / 'meta.db'}"
    assert s.lake_url == f"file://{home / 'lake'}"
    assert (s.s3_endpoint_url, s.s3_access_key_id, s.s3_secret_access_key) == (None, None, None)
    assert s.s3_region == "us-east-1"
    assert s.principal == "root"
    assert s.debug is False


def test_default_home_is_dot_crispml_under_the_user_home(tmp_path: Path) -> None:
    # conftest points $HOME at tmp_path/user-home
    assert load_settings(environ={}).home == (tmp_path / "user-home" / ".crispml").resolve()


def test_home_explicit_beats_environment_beats_default(tmp_path: Path) -> None:
    env = {"CRISPML_HOME": str(tmp_path / "env-home")}
    assert load_settings(environ=env).home == (tmp_path / "env-home").resolve()
    assert load_settings(environ=env, home=str(tmp_path / "arg")).home == (tmp_path / "arg").resolve()
    # derived defaults follow the home that won
    assert load_settings(environ=env).db_url.endswith(f"{tmp_path / 'env-home' / 'meta.db'}")


@pytest.mark.parametrize("name", sorted(LAYERED))
def test_precedence_for_each_setting(tmp_path: Path, name: str) -> None:
    home = tmp_path / "home"
    from_toml, from_env, from_arg = LAYERED[name]
    _write_toml(home / "crispml.toml", {name: from_toml})
    env = {"CRISPML_" + name.upper(): from_env}

    assert _value(load_settings(environ={}, home=str(home)), name) == from_toml
    assert _value(load_settings(environ=env, home=str(home)), name) == from_env
    assert _value(load_settings(environ=env, home=str(home), **{name: from_arg}), name) == from_arg


def test_secret_precedence_and_value(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _write_toml(home / "crispml.toml", {"s3_secret_access_key": "from-toml"})
    env = {"CRISPML_S3_SECRET_ACCESS_KEY": "from-env"}

    def secret(**kw: Any) -> str:
        value = load_settings(home=str(home), **kw).s3_secret_access_key
        assert value is not None
        return value.get_secret_value()

    assert secret(environ={}) == "from-toml"
    assert secret(environ=env) == "from-env"
    assert secret(environ=env, s3_secret_access_key="from-arg") == "from-arg"


def test_booleans_from_environment_and_toml(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _write_toml(home / "crispml.toml", {"debug": True})
    assert load_settings(environ={}, home=str(home)).debug is True
    assert load_settings(environ={"CRISPML_DEBUG": "false"}, home=str(home)).debug is False


def test_empty_environment_variable_is_ignored(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _write_toml(home / "crispml.toml", {"s3_region": "eu-west-1"})
    assert load_settings(environ={"CRISPML_S3_REGION": ""}, home=str(home)).s3_region == "eu-west-1"


def test_explicit_none_means_not_given(tmp_path: Path) -> None:
    s = load_settings(environ={"CRISPML_S3_REGION": "eu-west-3"}, home=str(tmp_path), s3_region=None)
    assert s.s3_region == "eu-west-3"


def test_crispml_config_names_the_settings_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _write_toml(home / "crispml.toml", {"s3_region": "from-home-file"})
    elsewhere = _write_toml(tmp_path / "etc" / "other.toml", {"s3_region": "from-config-file"})
    s = load_settings(environ={"CRISPML_CONFIG": str(elsewhere)}, home=str(home))
    assert s.s3_region == "from-config-file"


def test_crispml_config_naming_a_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "crispml.toml"
    with pytest.raises(InvalidArgument, match="nope"):
        load_settings(environ={"CRISPML_CONFIG": str(missing)}, home=str(tmp_path))


def test_a_home_without_settings_file_uses_defaults(tmp_path: Path) -> None:
    assert load_settings(environ={}, home=str(tmp_path / "fresh")).s3_region == "us-east-1"


def test_unknown_toml_key_is_named(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _write_toml(home / "crispml.toml", {"db_ulr": "sqlite:///x.db"})
    with pytest.raises(InvalidArgument, match="db_ulr") as info:
        load_settings(environ={}, home=str(home))
    assert "db_url" in str(info.value)  # the known names are listed


def test_toml_cannot_set_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _write_toml(home / "crispml.toml", {"home": "/elsewhere"})
    with pytest.raises(InvalidArgument, match="home"):
        load_settings(environ={}, home=str(home))


def test_malformed_toml_is_invalid_argument(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "crispml.toml").write_text("db_url = \n", encoding="utf-8")
    with pytest.raises(InvalidArgument, match=r"crispml\.toml"):
        load_settings(environ={}, home=str(home))


def test_wrong_type_names_the_setting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _write_toml(home / "crispml.toml", {"debug": "sometimes"})
    with pytest.raises(InvalidArgument, match="debug"):
        load_settings(environ={}, home=str(home))


def test_unknown_explicit_setting_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="lake_uri"):
        load_settings(environ={}, home=str(tmp_path), lake_uri="file:///x")


def test_settings_are_read_when_called_not_at_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRISPML_HOME", str(tmp_path / "first"))
    assert load_settings().home == (tmp_path / "first").resolve()
    monkeypatch.setenv("CRISPML_HOME", str(tmp_path / "second"))
    assert load_settings().home == (tmp_path / "second").resolve()


def test_secrets_are_not_shown(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _write_toml(home / "crispml.toml", {"s3_secret_access_key": "toml-secret-123"})
    from_toml = load_settings(environ={}, home=str(home))
    from_env = load_settings(
        environ={"CRISPML_S3_SECRET_ACCESS_KEY": "env-secret-456",
                 "CRISPML_DB_URL": "postgresql://crispml:db-password-789@db.example:5432/meta"},
        home=str(home),
    )
    for settings, secrets in ((from_toml, ["toml-secret-123"]),
                              (from_env, ["env-secret-456", "db-password-789"])):
        for shown in (repr(settings), str(settings)):
            for secret in secrets:
                assert secret not in shown
    # the values themselves are intact for the code that needs them
    assert from_env.db_url == "postgresql://crispml:db-password-789@db.example:5432/meta"
    assert "db.example" in repr(from_env)


def test_settings_are_frozen_and_forbid_unknown_fields(tmp_path: Path) -> None:
    s = load_settings(environ={}, home=str(tmp_path))
    with pytest.raises(ValueError):
        s.principal = "mallory"  # type: ignore[misc]
    with pytest.raises(ValueError):
        Settings(home=tmp_path, db_url="sqlite://", lake_url="file:///x", colour="red")  # type: ignore[call-arg]


def test_every_setting_is_described_with_its_variable() -> None:
    described = {name: (var, doc) for name, var, doc in describe_settings()}
    assert set(described) == set(Settings.model_fields)
    for name, (var, doc) in described.items():
        assert var == "CRISPML_" + name.upper()
        assert doc.strip(), f"setting {name} has no description"
