"""One settings object for the whole service, read from HOMECARE_* environment variables.

Bad settings stop the process at start with a message naming the variable, never later at run time.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SQLITE_PREFIX = "sqlite+aiosqlite:///"


def default_database_path() -> Path:
    """Where the embedded database lives unless HOMECARE_DATABASE_URL says otherwise, whatever the current
    directory: `var/homecare.db` in a source checkout (`make run`), else the user's data directory
    ($XDG_DATA_HOME, by default ~/.local/share, then homecare-dispatch/homecare.db)."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file():
        return checkout / "var" / "homecare.db"
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "homecare-dispatch" / "homecare.db"


def default_database_url() -> str:
    return f"{SQLITE_PREFIX}{default_database_path()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOMECARE_", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    timezone: str = "Asia/Shanghai"
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")

    # Dispatch policy
    max_km: float = Field(default=8.0, gt=0, le=100)
    continuity_bonus_km: float = Field(default=1.5, ge=0, le=50)
    offer_timeout_emergency_s: int = Field(default=300, ge=10)
    offer_timeout_urgent_s: int = Field(default=3600, ge=10)
    offer_timeout_routine_s: int = Field(default=86400, ge=10)
    max_dispatch_attempts: int = Field(default=5, ge=1, le=50)
    # An emergency not accepted this long after its last offers is offered to the next nearest at once;
    # not accepted this long after the alarm, it goes to the operators' escalation queue.
    escalate_after_s: int = Field(default=60, ge=1, le=3600)
    escalation_queue_after_s: int = Field(default=180, ge=1, le=86400)
    dispatch_tick_s: float = Field(default=1.0, gt=0, le=60)

    # Electronic visit verification
    geofence_m: float = Field(default=300.0, gt=0, le=5000)
    clock_skew_s: int = Field(default=120, ge=0, le=3600)
    missing_check_out_after_h: float = Field(default=12.0, gt=0)
    # Faster than this between one visit's check-out and the next check-in is not a real journey.
    max_travel_kmh: float = Field(default=40.0, gt=0, le=200)

    # Placing visits on days: a provider's daily capacity is caregivers x working minutes / (visit + travel)
    default_caregivers: int = Field(default=10, ge=1, le=10000, description="When a provider lists none")
    visit_minutes: int = Field(default=60, ge=30, le=480)
    travel_minutes: int = Field(default=30, ge=0, le=240)
    working_minutes: int = Field(default=480, ge=60, le=960)

    # Supervision: provider quality (dynamic entry/exit) and the follow-up call queue
    quality_threshold: float = Field(
        default=60.0, ge=0, le=100, description="A monthly score below this counts towards suspension"
    )
    quality_low_months: int = Field(default=2, ge=1, le=12, description="Low months running before suspension")
    emergency_target_minutes: float = Field(
        default=30.0, gt=0, le=1440, description="An emergency answered within this is on time"
    )
    follow_up_sample_rate: float = Field(default=0.1, ge=0, le=1, description="Share of ordinary visits called back")
    new_provider_months: int = Field(default=3, ge=1, le=24, description="A provider is new for its first months")
    # Proactive care (主动关爱): elders living alone or aged 80+ are called when nobody has been in touch
    # (visit, call, follow-up) for this many days; a device unheard of for device_silent_h puts its elder on
    # the list too.
    proactive_care_days: int = Field(default=7, ge=1, le=90, description="Days without contact before a call")
    device_silent_h: float = Field(default=24.0, gt=0, le=24 * 30, description="Hours unheard of: a silent device")
    report_font: str | None = Field(default=None, description="A TrueType CJK font for PDF reports")

    # Each API process remembers a token it has checked for this long instead of asking the database on
    # every request: revoking a token takes effect within this many seconds. 0 checks every request.
    token_cache_s: float = Field(default=5.0, ge=0, le=300)

    scheduler_enabled: bool = True
    # The scheduler's heartbeat file (service/heartbeat.py), rewritten every heartbeat_s seconds and read by
    # `homecare scheduler-health`; unset, none is written.
    heartbeat_path: Path | None = None
    heartbeat_s: float = Field(default=5.0, gt=0, le=60)

    # The console (service/console): a session ends after console_idle_min minutes without a request and
    # console_absolute_h hours after login whatever happens; its cookie is Secure when console_https is set
    # (serve it behind HTTPS). login_max_failures wrong passwords in a row lock the account, and as many
    # times login_address_factor from one address lock the address, for login_lock_min minutes.
    console_idle_min: float = Field(default=30.0, gt=0, le=1440)
    console_absolute_h: float = Field(default=12.0, gt=0, le=168)
    console_https: bool = False
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_address_factor: int = Field(default=4, ge=1, le=100)
    login_lock_min: float = Field(default=15.0, gt=0, le=1440)

    # Reports are built this many at a time per API process, on a connection pool of their own of this size,
    # so downloads never take the connections intake and dispatch need; a download beyond that waits up to
    # report_wait_s for its turn, then gets 503 with Retry-After.
    report_concurrency: int = Field(default=4, ge=1, le=32)
    report_wait_s: float = Field(default=10.0, ge=0, le=300)

    # What a client may send: a body larger than max_body_bytes is 413 before it is read further; the whole
    # body must arrive within body_timeout_s (408), the request head within header_timeout_s and be at most
    # max_header_bytes; an idle keep-alive connection is closed after keep_alive_s.
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    body_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    header_timeout_s: float = Field(default=10.0, gt=0, le=600)
    max_header_bytes: int = Field(default=65_536, ge=4096, le=1_048_576)
    keep_alive_s: int = Field(default=5, ge=1, le=3600)

    # The provider apps' offer stream (GET /provider/offers/stream, service/provider_app/stream.py): a heartbeat
    # comment every feed_heartbeat_s keeps proxies and mobile networks from closing an idle stream; a stream
    # re-reads its offers every feed_safety_s even unwoken (a lost notification); a client that takes no
    # event or heartbeat within feed_send_timeout_s is disconnected; a stream ends after feed_max_age_s (the
    # app reconnects with its last event id); one token may hold feed_max_per_token streams per API process.
    feed_heartbeat_s: float = Field(default=15.0, gt=0, le=300)
    feed_safety_s: float = Field(default=20.0, gt=0, le=600)
    feed_send_timeout_s: float = Field(default=30.0, gt=0, le=600)
    feed_max_age_s: float = Field(default=3600.0, gt=0, le=86400)
    feed_max_per_token: int = Field(default=10, ge=1, le=1000)

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, url: str) -> str:
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// (embedded) or postgresql+asyncpg:// (production)")
        # The default database's folder is made on first use; a named one's must exist, so that a mistyped
        # path stops the process here instead of creating a new, empty database somewhere unexpected.
        if url.startswith(SQLITE_PREFIX) and url != default_database_url():
            path = url.removeprefix(SQLITE_PREFIX).split("?", 1)[0]
            if path and path != ":memory:" and not Path(path).parent.is_dir():
                raise ValueError(f"the folder of the SQLite database {path} does not exist")
        return url

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {name!r}") from exc
        return name

    @model_validator(mode="after")
    def _timeouts_ordered(self) -> Settings:
        if not self.offer_timeout_emergency_s <= self.offer_timeout_urgent_s <= self.offer_timeout_routine_s:
            raise ValueError("offer timeouts must grow from emergency to urgent to routine")
        if not self.escalate_after_s < self.escalation_queue_after_s:
            raise ValueError("escalate_after_s must be shorter than escalation_queue_after_s")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
