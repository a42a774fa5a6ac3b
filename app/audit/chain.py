"""The audit trail's hash chain: pure functions, no database.

Each entry's hash covers its own fields and the previous entry's hash, so changing, removing or
reordering any entry breaks the chain from that entry on. `first_break` walks entries in `seq`
order and names the first one that does not fit.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64

# The fields a hash covers, in the order they are written out (sorted anyway by json.dumps).
FIELDS = (
    "seq",
    "id",
    "at",
    "actor_id",
    "actor_role",
    "on_behalf_of_id",
    "patient_id",
    "action",
    "outcome",
    "request_id",
    "details",
    "prev_hash",
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if value is None or isinstance(value, (str, int, float, bool, dict, list)):
        return value
    return str(value)  # UUIDs


def entry_hash(fields: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of an entry's fields (prev_hash included)."""
    canonical = json.dumps(
        {name: _plain(fields.get(name)) for name in FIELDS},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def fields_of(entry: Any) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in FIELDS}


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str  # "hash" (the entry was changed), "link" (an entry before it is missing or
    #              changed), "gap" (a sequence number is missing)


def first_break(entries: Iterable[Any]) -> Break | None:
    """The first entry (in seq order) where the chain does not hold, or None."""
    previous_hash, expected_seq = GENESIS, 1
    for entry in entries:
        if entry.seq != expected_seq:
            return Break(entry.seq, "gap")
        if entry.prev_hash != previous_hash:
            return Break(entry.seq, "link")
        if entry_hash(fields_of(entry)) != entry.hash:
            return Break(entry.seq, "hash")
        previous_hash, expected_seq = entry.hash, entry.seq + 1
    return None
