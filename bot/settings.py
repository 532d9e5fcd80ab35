"""Process settings from the environment and ``.env`` (pydantic-settings).

Built once in ``main()``; secrets are ``SecretStr`` and never logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./data/supportbot.db",
        description="SQLAlchemy async URL; PostgreSQL in production "
        "(postgresql+asyncpg://user:pass@host/db).",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis shared by a fleet of workers: per-customer locks, flood and "
        "send-rate limits, the update stream (optional).",
    )
    desk_policy_file: Path | None = Field(
        default=None, description="Desk policy TOML; the shipped example when unset."
    )
    log_level: str = "INFO"

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str | None = Field(
        default=None, description="Another Bot API server (self-hosted telegram-bot-api)."
    )
    telegram_mode: Literal["polling", "webhook"] = "polling"
    telegram_webhook_url: str | None = None
    telegram_webhook_host: str = "127.0.0.1"
    telegram_webhook_port: int = 8080
    telegram_webhook_secret: SecretStr | None = None

    discord_bot_token: SecretStr | None = None
    discord_application_id: int | None = Field(
        default=None, description="The application's id (read from Discord when unset)."
    )
    discord_guild_ids: str = Field(
        default="",
        description="Comma-separated server ids to register the commands in (at once); "
        "none: globally (Discord may take up to an hour to show them).",
    )
    discord_api_url: str | None = Field(
        default=None, description="Another REST base for Discord (a proxy; tests' fake)."
    )

    file_store_dir: Path | None = Field(
        default=None,
        description="Keep the desk's copies of files in this folder; in the database when unset.",
    )
    # An S3-compatible object store instead (AWS S3, MinIO, R2, ...): set the bucket.
    file_store_s3_bucket: str | None = Field(
        default=None, description="Keep the desk's copies of files in this S3 bucket."
    )
    file_store_s3_endpoint_url: str | None = Field(
        default=None, description="The S3-compatible server (MinIO, R2, ...); AWS when unset."
    )
    file_store_s3_region: str | None = None
    file_store_s3_access_key_id: str | None = Field(
        default=None, description="Unset: the usual AWS credential chain (env, profile, role)."
    )
    file_store_s3_secret_access_key: SecretStr | None = None
    file_store_s3_prefix: str = Field(default="files/", description="Object names start so.")
    file_store_s3_link_seconds: int = Field(
        default=7 * 24 * 3600,
        gt=0,
        le=7 * 24 * 3600,
        description="How long a download link offered for a file too large for a channel works.",
    )
    file_store_max_mb: float = Field(
        default=50,
        gt=0,
        description="The largest file the desk keeps (on every channel; each channel's own "
        "limits are in the policy's [files]).",
    )

    relay_interval_seconds: float = Field(default=1.0, gt=0)
    relay_batch_size: int = Field(default=50, gt=0)
    # Retries come within 30 s of each other (bot/relay.py backoff_seconds): 40 tries
    # ride out about a quarter of an hour of Telegram trouble before a message fails.
    relay_max_attempts: int = Field(default=40, gt=0)
    clock_interval_seconds: float = Field(default=30.0, gt=0)
    # Flood control, in the desk for every channel: updates per customer per window.
    flood_limit: int = Field(default=20, gt=0)
    flood_window_seconds: float = Field(default=60.0, gt=0)

    # The update queue between the one receiver and the workers (Redis streams when
    # REDIS_URL is set, else the pending_updates table).
    update_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a worker holds the updates it took (with Redis: its stream "
        "partitions) without renewing; a dead worker's updates are taken over after it.",
    )
    update_batch_size: int = Field(
        default=100, gt=0, description="Most updates one worker holds at a time."
    )
    update_poll_seconds: float = Field(
        default=0.5, gt=0, description="How long an idle worker waits before looking again."
    )
    update_max_attempts: int = Field(
        default=5, gt=0, description="Tries of an update whose handler fails before it is dropped."
    )
    update_partitions: int = Field(
        default=16,
        gt=0,
        description="Redis streams per bot; a chat's updates stay in one, read by one worker "
        "at a time. Change it only while no update is waiting.",
    )
    update_stream_maxlen: int = Field(
        default=100_000,
        gt=0,
        description="About how many unhandled updates a Redis stream keeps; older ones are "
        "dropped beyond it.",
    )

    @model_validator(mode="after")
    def _one_file_store(self) -> Settings:
        if self.file_store_dir is not None and self.file_store_s3_bucket:
            raise ValueError("set FILE_STORE_DIR or FILE_STORE_S3_BUCKET, not both")
        return self

    @property
    def discord_enabled(self) -> bool:
        return self.discord_bot_token is not None and bool(
            self.discord_bot_token.get_secret_value()
        )

    @property
    def discord_guilds(self) -> list[int]:
        return [int(g) for g in self.discord_guild_ids.replace(" ", "").split(",") if g]

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None and bool(
            self.telegram_bot_token.get_secret_value()
        )
