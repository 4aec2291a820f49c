"""Every table, imported in one place so that Alembic and the tests see the whole schema."""

from sqlmodel import SQLModel

from service.areas.models import Area
from service.audit.models import AuditEvent
from service.calls.models import CallRecord
from service.complaints.models import Complaint
from service.console.models import ID_TAIL_INDEX, NAME_PREFIX_INDEX  # noqa: F401  (the caller search's, on elder)
from service.devices.models import Device, DeviceAlert, DeviceGateway
from service.dispatching.models import DispatchPlan
from service.elders.models import AbilityAssessment, Elder, ElderCategory, ElderContact
from service.entitlements.models import EntitlementPolicy
from service.idempotency.models import IdempotencyRecord
from service.items.models import CatalogueItem
from service.lifecycle.models import Assignment, QuotaUsage, ServiceRequest
from service.providers.models import Caregiver, Provider, ProviderArea, Station
from service.quality.models import ProviderQuality
from service.reports.models import MonthClose, ServicePrice
from service.tokens.models import ApiToken
from service.users.models import ConsoleSession, LoginThrottle, UserAccount
from service.visits.models import FollowUp, Visit

metadata = SQLModel.metadata

__all__ = [
    "AbilityAssessment",
    "ApiToken",
    "Area",
    "Assignment",
    "AuditEvent",
    "CallRecord",
    "Caregiver",
    "CatalogueItem",
    "Complaint",
    "ConsoleSession",
    "Device",
    "DeviceAlert",
    "DeviceGateway",
    "DispatchPlan",
    "Elder",
    "ElderCategory",
    "ElderContact",
    "EntitlementPolicy",
    "FollowUp",
    "IdempotencyRecord",
    "LoginThrottle",
    "MonthClose",
    "Provider",
    "ProviderArea",
    "ProviderQuality",
    "QuotaUsage",
    "ServicePrice",
    "ServiceRequest",
    "Station",
    "UserAccount",
    "Visit",
    "metadata",
]
