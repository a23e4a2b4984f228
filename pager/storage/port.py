"""The storage port: what the service needs from a store, whatever the database."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Protocol

from pager.domain.alert import Alert, Source
from pager.domain.incident import Group, IngestPolicy, Outcome, State

__all__ = ["Applied", "Conflict", "Delivery", "IngestPolicy", "IngestResult", "NotFound", "Store"]

@dataclass(frozen=True, slots=True)
class Delivery:
    """One accepted webhook: its raw body, the alerts parsed from it, and for Alertmanager what the
    notification says of its group (`groupKey`, top-level `status`)."""

    source: Source
    content_type: str
    body: bytes
    alerts: tuple[Alert, ...]
    received_at: datetime
    facts: Mapping[str, Any] = field(default_factory=dict)
    group: Group | None = None


@dataclass(frozen=True, slots=True)
class Applied:
    """What one alert of a delivery did, and to which incident (None: orphan or duplicate)."""
    incident_id: int | None
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class IngestResult:
    delivery_id: int
    applied: tuple[Applied, ...]

    @property
    def duplicates(self) -> int:
        return sum(1 for a in self.applied if a.outcome is Outcome.DUPLICATE)

    @property
    def incident_ids(self) -> list[int]:
        return sorted({a.incident_id for a in self.applied if a.incident_id is not None})


class NotFound(Exception):
    pass


class Conflict(Exception):
    pass


class Store(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...
    async def ingest(self, delivery: Delivery) -> IngestResult: ...
    async def transition(self, incident_id: int, target: State, *, actor: str, via: str,
                         comment: str | None, now: datetime) -> dict: ...
    async def add_note(self, incident_id: int, *, actor: str, text: str, now: datetime) -> dict: ...
    async def list_incidents(self, *, state: str | None, source: str | None, since: datetime | None,
                             limit: int, before_id: int | None) -> list[dict]: ...
    async def get_incident(self, incident_id: int) -> dict | None: ...
    async def count_by_state(self) -> dict[str, int]: ...
    async def add_override(self, *, rotation: str, start: datetime, end: datetime, person: str,
                           replaces: str | None, created_by: str, now: datetime) -> dict: ...
    async def list_overrides(self, rotation: str | None = None, *, include_removed: bool = False) -> list[dict]: ...
    async def remove_override(self, override_id: int, *, removed_by: str, now: datetime) -> dict: ...
    async def claim_handover(self, rotation: str, shift_start: datetime, person: str, now: datetime) -> bool: ...
    async def add_booking(self, *, customer: str, start: datetime, end: datetime, created_by: str,
                          now: datetime) -> dict: ...
    async def list_bookings(self, customer: str | None = None, *, include_cancelled: bool = False,
                            ending_after: datetime | None = None) -> list[dict]: ...
    async def cancel_booking(self, booking_id: int, *, by: str, now: datetime) -> dict: ...
    async def add_work(self, incident_id: int, *, person: str, start: datetime | None = None,
                       end: datetime | None = None, minutes: int | None = None, note: str | None = None,
                       by: str, now: datetime) -> dict: ...
    async def list_work(self, incident_id: int) -> list[dict]: ...
    async def customer_incidents(self, project_prefix: str, start: datetime, end: datetime) -> list[dict]: ...
