"""Settings refuse a placeholder or short SECRET_KEY in every environment but development,
and warn about it there (README, "Configuration")."""

from __future__ import annotations

import logging

import pytest

from app.core.config import MIN_SECRET_LENGTH, InsecureSettings, Settings

GOOD_SECRET = "a-random-value-long-enough-for-hs256-0123456789"
# name -> (SECRET_KEY, None for the built-in default; what the message calls it)
WEAK_SECRETS: dict[str, tuple[str | None, str]] = {
    "default": (None, "a placeholder"),  # the built-in development-only value
    "placeholder": ("changeme", "a placeholder"),
    "placeholder, padded": ("  CHANGEME  ", "a placeholder"),
    "empty": ("", "a placeholder"),
    "one short": ("x" * (MIN_SECRET_LENGTH - 1), f"shorter than {MIN_SECRET_LENGTH} characters"),
}
CONFIG_LOGGER = "app.core.config"


@pytest.fixture(autouse=True)
def _no_secret_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make test` exports a SECRET_KEY; these tests decide for themselves."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("ENVIRONMENT", raising=False)


def _settings(environment: str, secret: str | None) -> Settings:
    values: dict[str, object] = {"environment": environment}
    if secret is not None:
        values["secret_key"] = secret
    return Settings(**values)  # type: ignore[arg-type]


def _config_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == CONFIG_LOGGER and r.levelno == logging.WARNING
    ]


@pytest.mark.parametrize("environment", ["test", "production"])
@pytest.mark.parametrize(("secret", "weakness"), WEAK_SECRETS.values(), ids=WEAK_SECRETS.keys())
def test_weak_secret_is_refused_outside_development(
    environment: str, secret: str | None, weakness: str
) -> None:
    with pytest.raises(InsecureSettings) as refused:
        _settings(environment, secret)
    message = str(refused.value)
    assert message.startswith(f"SECRET_KEY is {weakness}, which ENVIRONMENT={environment} refuses")
    assert f"at least {MIN_SECRET_LENGTH} characters" in message
    assert "secrets.token_urlsafe" in message  # says how to make a good one
    if secret and secret.strip():
        assert secret.strip() not in message  # the refused value is never repeated


def test_weak_secret_is_refused_when_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The way a deployment meets it: ENVIRONMENT and SECRET_KEY as variables."""
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", "secret")
    with pytest.raises(InsecureSettings, match="SECRET_KEY is a placeholder"):
        Settings()
    monkeypatch.setenv("SECRET_KEY", GOOD_SECRET)
    assert Settings().secret_key.get_secret_value() == GOOD_SECRET


@pytest.mark.parametrize(("secret", "weakness"), WEAK_SECRETS.values(), ids=WEAK_SECRETS.keys())
def test_weak_secret_is_allowed_in_development_with_one_warning(
    caplog: pytest.LogCaptureFixture, secret: str | None, weakness: str
) -> None:
    with caplog.at_level(logging.WARNING, logger=CONFIG_LOGGER):
        settings = _settings("development", secret)
    assert settings.secret_key.get_secret_value() == (
        secret if secret is not None else "development-only-secret"
    )
    assert _config_warnings(caplog) == [
        f"SECRET_KEY is {weakness}: accepted only because ENVIRONMENT=development; "
        "any other environment refuses it"
    ]


def test_development_is_the_default_and_runs_without_configuration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`make run` sets no SECRET_KEY: it must start, with the warning."""
    with caplog.at_level(logging.WARNING, logger=CONFIG_LOGGER):
        settings = Settings()
    assert settings.environment == "development"
    assert len(_config_warnings(caplog)) == 1


@pytest.mark.parametrize("environment", ["development", "test", "production"])
def test_good_secret_is_accepted_without_a_warning(
    caplog: pytest.LogCaptureFixture, environment: str
) -> None:
    for secret in (GOOD_SECRET, "y" * MIN_SECRET_LENGTH):
        with caplog.at_level(logging.WARNING, logger=CONFIG_LOGGER):
            settings = _settings(environment, secret)
        assert settings.secret_key.get_secret_value() == secret
    assert _config_warnings(caplog) == []
