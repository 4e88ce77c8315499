"""Settings: every knob is an environment variable, read by this one class.

The README lists each variable with its default. Settings are built explicitly
(`get_settings()` in the app factory and the worker), never at import time, so tests
can build the app with other values.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.core.uploads import UploadLimits

logger = logging.getLogger(__name__)

# Values that must never protect a deployment outside development (see `_check_secret_key`).
_PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "development-only-secret"}
_DEV_SECRET = "development-only-secret"  # noqa: S105 - refused outside development, see below
MIN_SECRET_LENGTH = 32


class InsecureSettings(RuntimeError):
    """Settings refused for security. Not a ValueError on purpose: pydantic would wrap that
    in a ValidationError whose message repeats the input, and with it the secret."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    environment: Literal["development", "test", "production"] = "development"

    # The API and worker connect as a role that neither owns the tables nor bypasses RLS;
    # migrations run as the owner (DATABASE_OWNER_URL, defaults to DATABASE_URL).
    database_url: str = "postgresql+asyncpg://tessera_app@127.0.0.1:5432/tessera"
    database_owner_url: str | None = None
    database_pool_size: int = Field(default=20, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)

    redis_url: str = "redis://127.0.0.1:6379/0"

    secret_key: SecretStr = SecretStr(_DEV_SECRET)
    access_token_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)

    admin_user: str | None = None
    admin_password: SecretStr | None = None
    # Comma-separated group ids whose members are admins (see DESIGN §3 "Principal").
    admin_groups: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["admin"])

    # Comma-separated group ids whose members are system workers: they fetch and complete
    # the external tasks of every tenant, each in that task's tenant (issue 10, README).
    system_worker_groups: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # fetchAndLock: most tasks in one call, and the longest long poll (Camunda's cap).
    external_task_max_fetch: int = Field(default=500, ge=1)
    long_poll_max_ms: int = Field(default=1_800_000, ge=0)

    # Background work (app/worker.py): runs of one tenant per slice before the next tenant's
    # turn (fair acquisition, G4); first retry delay of a failed run (doubling, capped at an
    # hour); the longest one arq job (a slice, a process job) may take; how often an idle
    # worker looks for work in Redis.
    job_slice_size: int = Field(default=50, ge=1)
    job_retry_backoff_seconds: float = Field(default=10.0, ge=0)
    worker_job_timeout_seconds: int = Field(default=60, ge=1)
    worker_poll_delay_seconds: float = Field(default=0.05, gt=0)

    # Global switch of the tenant check (DESIGN §3 "Switches"). Off = everyone sees all rows.
    tenant_check_enabled: bool = True

    # Sign-in throttling: after this many failed attempts for one user inside the window,
    # further attempts are refused with 429 until the window has passed.
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_seconds: int = Field(default=300, ge=1)

    # Request bodies above this many bytes are refused with 413 before parsing.
    max_json_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_page_size: int = Field(default=1000, ge=1)
    # Process variables: one value's JSON, and all variables of one request together.
    max_variable_bytes: int = Field(default=256 * 1024, ge=1024)
    max_variables_bytes: int = Field(default=1_048_576, ge=1024)

    # Deployment uploads (B8): whole request, archive entry count and sizes, zip ratio.
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    archive_max_entries: int = Field(default=200, ge=1)
    archive_max_entry_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    archive_max_total_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    archive_max_compression_ratio: float = Field(default=100.0, gt=1)

    # Outbound calls to tenant-given URLs (webhooks, app.core.outbound): the whole call.
    webhook_timeout_seconds: float = Field(default=10, gt=0)

    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("admin_groups", "system_worker_groups", mode="before")
    @classmethod
    def _split_groups(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _check_secret_key(self) -> Settings:
        """A placeholder or short SECRET_KEY lets anyone who reads the code forge tokens.

        Refused in every environment but development (`test` too, so that the suite runs
        under the rule production runs under); in development it is allowed, with one
        warning, so that `make run` works on a fresh machine without any configuration.
        """
        secret = self.secret_key.get_secret_value()
        if secret.strip().lower() in _PLACEHOLDER_SECRETS:
            weakness = "is a placeholder"
        elif len(secret) < MIN_SECRET_LENGTH:
            weakness = f"is shorter than {MIN_SECRET_LENGTH} characters"
        else:
            return self
        if self.environment != "development":
            raise InsecureSettings(
                f"SECRET_KEY {weakness}, which ENVIRONMENT={self.environment} refuses: set it "
                f"to a random value of at least {MIN_SECRET_LENGTH} characters, e.g. from "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        logger.warning(
            "SECRET_KEY %s: accepted only because ENVIRONMENT=development; "
            "any other environment refuses it",
            weakness,
        )
        return self

    def upload_limits(self) -> UploadLimits:
        return UploadLimits(
            max_upload_bytes=self.upload_max_bytes,
            max_archive_entries=self.archive_max_entries,
            max_entry_bytes=self.archive_max_entry_bytes,
            max_total_uncompressed_bytes=self.archive_max_total_bytes,
            max_compression_ratio=self.archive_max_compression_ratio,
        )

    @property
    def migration_database_url(self) -> str:
        return self.database_owner_url or self.database_url


@lru_cache
def get_settings() -> Settings:
    return Settings()
