"""Every table, imported in one place so that Alembic and the tests see the whole schema."""

from sqlmodel import SQLModel

from service.areas.models import Area
from service.audit.models import AuditEvent
from service.calls.models import CallRecord
from service.complaints.models import Complaint
from service.devices.models import Device, DeviceAlert, DeviceGateway
from service.dispatching.models import DispatchPlan, QuotaUsage
from service.elders.models import Elder
from service.idempotency.models import IdempotencyRecord
from service.providers.models import Caregiver, Provider, ProviderArea, Station
from service.quality.models import ProviderQuality
from service.reports.models import MonthClose, ServicePrice
from service.requests.models import Assignment, ServiceRequest
from service.tokens.models import ApiToken
from service.visits.models import FollowUp, Visit

metadata = SQLModel.metadata

__all__ = [
    "ApiToken", "Area", "Assignment", "AuditEvent", "CallRecord", "Caregiver", "Complaint", "Device",
    "DeviceAlert", "DeviceGateway", "DispatchPlan", "Elder", "FollowUp",
    "IdempotencyRecord", "MonthClose", "Provider", "ProviderArea", "ProviderQuality", "QuotaUsage",
    "ServicePrice", "ServiceRequest", "Station", "Visit", "metadata",
]
