"""Client UUIDs: every write a client makes carries one, so a replay writes once."""

import uuid


def new_client_id() -> str:
    """The UUID a form carries so a double submit or an offline replay writes once."""
    return str(uuid.uuid4())


def parse_client_id(value: str | None) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        # A missing id still writes exactly once: this submission just cannot be replayed.
        return uuid.uuid4()
