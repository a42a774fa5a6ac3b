"""Which protocol version was in force when, read for the pure schedule.

A past session is judged against the schedule in force when it was due (see
schedule.occurrences_in_force), never against a later version's: saving a version (a new time,
a phase change) must not rewrite the record of the sessions before it. `overlapping` reads the
versions a time range needs for many patients in one query; `in_force` hands them to the
schedule.
"""

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from app.protocols import schedule
from app.protocols import service as protocols
from app.protocols.models import ProtocolVersion

# A version saved this long after a range's end can still decide about a session open in it (it
# reaches back over its own grace: schedule.occurrences_in_force): the longest grace the protocol
# form takes (the maximum has stood since versions had a grace).
_REACH_BACK = timedelta(hours=protocols.GRACE_MAX_HOURS)

# The versions saved before another's, for "the one in force at start". Made once: with a
# fresh alias per call (its columns adapted anew each time) a call took 1.2 ms against 0.4,
# on Today, the timeline, the sitter's pages and the patient list (docs/benchmarks.md).
_EARLIER = aliased(ProtocolVersion)


def in_force(versions: Iterable[ProtocolVersion]) -> list[schedule.InForce]:
    """The versions as the schedule takes them, oldest first."""
    return [schedule.InForce(version=v.version, since=v.created_at,
                             plans=tuple(protocols.plans(v)),
                             grace=timedelta(hours=float(v.grace_hours)))
            for v in sorted(versions, key=lambda v: v.version)]


def overlapping(session: Session, patient_ids: Sequence[uuid.UUID], start: datetime,
                end: datetime | None = None) -> dict[uuid.UUID, list[ProtocolVersion]]:
    """Each patient's versions that decide about the sessions of [start, end), oldest first:
    the one in force at `start` and those saved after it, up to `end` and the longest grace
    after it (None: up to the current one). One query however many patients (patients without
    one are left out)."""
    if not patient_ids:
        return {}
    earlier = _EARLIER
    # The version in force at `start`: the latest saved by then.
    at_start = (select(func.max(earlier.version))
                .where(earlier.patient_id == ProtocolVersion.patient_id,
                       earlier.created_at <= start)
                .correlate(ProtocolVersion)
                .scalar_subquery())
    where = [col(ProtocolVersion.patient_id).in_(list(patient_ids)),
             or_(col(ProtocolVersion.created_at) > start, col(ProtocolVersion.version) == at_start)]
    if end is not None:
        where.append(col(ProtocolVersion.created_at) < end + _REACH_BACK)
    found: dict[uuid.UUID, list[ProtocolVersion]] = {}
    for version in session.exec(
            select(ProtocolVersion).where(*where)
            .order_by(col(ProtocolVersion.patient_id), col(ProtocolVersion.version))).all():
        found.setdefault(version.patient_id, []).append(version)
    return found


def for_patient(session: Session, patient_id: uuid.UUID, start: datetime,
                end: datetime) -> list[ProtocolVersion]:
    """One patient's versions that decide about [start, end), oldest first. Always one query,
    even when the current version covers the range: a page costs the same statements whatever
    the protocol's history (tests/test_query_counts.py)."""
    return overlapping(session, [patient_id], start, end).get(patient_id, [])
