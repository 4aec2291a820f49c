from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, utcnow


class ProviderQuality(SQLModel, table=True):
    """A provider's quality score for one month (the Yuxi seed's 行业动态进出机制).

    `low_run` counts the consecutive assessed months below the threshold since the last suspension;
    it is stored so that re-assessing a month never suspends a provider an admin has reinstated.
    """

    __tablename__ = "provider_quality"
    __table_args__ = (
        CheckConstraint("score IS NULL OR score BETWEEN 0 AND 100", name="provider_quality_score"),
        CheckConstraint("low_run >= 0", name="provider_quality_low_run"),
    )

    provider_id: int = Field(foreign_key="provider.id", primary_key=True)
    month: str = Field(primary_key=True, max_length=7)
    visits: int
    verified_rate: float | None = None
    exception_rate: float | None = None
    mean_satisfaction: float | None = None
    emergency_on_time_rate: float | None = None
    complaints: int = Field(default=0, description="Complaint tickets about the provider opened in the month")
    score: float | None = None
    below_threshold: bool = False
    low_run: int = 0
    suspended: bool = Field(default=False, description="This assessment suspended the provider")
    assessed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
