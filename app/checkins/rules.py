"""Pure rules for check-ins: when "ready to be alone" may be recorded for a session.

No database, no clock: the caller passes the dose time, the check-in's time, the protocol's
observation period and hold level, this check-in's values and the session's earlier readings.
Refusals are codes with parameters; the service words them in the patient's language and time
zone.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

NORMAL_SEDATION = 0  # "Responds normally"


class ReadyAloneCode(StrEnum):
    TOO_SOON = "too_soon"  # before the end of the observation period
    NO_SEDATION = "no_sedation"  # no sedation check in this session yet
    SEDATED = "sedated"  # the latest sedation check is not "responds normally"
    NO_BP = "no_bp"  # no blood pressure reading in this session yet
    BP_AT_HOLD = "bp_at_hold"  # the latest reading is at or above the protocol's hold level


@dataclass(frozen=True)
class Refusal:
    code: ReadyAloneCode
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reading:
    """An earlier check-in of the same session: when, and what it recorded."""

    at: datetime
    values: Mapping[str, Any]


def _latest(values: Mapping[str, Any], earlier: Iterable[Reading], keys: tuple[str, ...],
            taken_at: datetime, at: datetime) -> tuple[Any, ...] | None:
    """The keys' values from this check-in if it has them all, else from the latest earlier
    reading of the session (after the dose, not after this check-in) that has them all."""
    if all(k in values for k in keys):
        return tuple(values[k] for k in keys)
    best: Reading | None = None
    for reading in earlier:
        if taken_at <= reading.at <= at and all(k in reading.values for k in keys) and (
                best is None or reading.at >= best.at):
            best = reading
    return tuple(best.values[k] for k in keys) if best else None


def ready_alone_refusals(
    *,
    taken_at: datetime,
    at: datetime,
    observation_minutes: int,
    hold_systolic: int,
    hold_diastolic: int,
    values: Mapping[str, Any],
    earlier: Iterable[Reading] = (),
) -> list[Refusal]:
    """Why "ready to be alone" at `at` cannot be accepted; empty when it can.

    It can from the end of the observation period (counted from the dose), with the latest
    sedation check "responds normally" and the latest blood pressure below the hold level
    (both numbers under it: the gate holds at or above either). Readings come from this
    check-in, else the latest earlier one of the session; none at all is a refusal too.
    Every failing condition is named, in this order: time, sedation, blood pressure.
    """
    earlier = tuple(earlier)
    refusals: list[Refusal] = []
    allowed_from = taken_at + timedelta(minutes=observation_minutes)
    if at < allowed_from:
        refusals.append(Refusal(ReadyAloneCode.TOO_SOON, {
            "allowed_from": allowed_from, "observation_minutes": observation_minutes}))

    sedation = _latest(values, earlier, ("sedation",), taken_at, at)
    if sedation is None:
        refusals.append(Refusal(ReadyAloneCode.NO_SEDATION))
    elif sedation[0] != NORMAL_SEDATION:
        refusals.append(Refusal(ReadyAloneCode.SEDATED, {"sedation": sedation[0]}))

    bp = _latest(values, earlier, ("systolic", "diastolic"), taken_at, at)
    if bp is None:
        refusals.append(Refusal(ReadyAloneCode.NO_BP))
    elif bp[0] >= hold_systolic or bp[1] >= hold_diastolic:
        refusals.append(Refusal(ReadyAloneCode.BP_AT_HOLD, {
            "systolic": bp[0], "diastolic": bp[1], "hold_systolic": hold_systolic,
            "hold_diastolic": hold_diastolic}))
    return refusals
