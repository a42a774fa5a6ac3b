import uuid
from datetime import datetime

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class ClientWrite(SQLModel, table=True):
    """Every write a client makes, keyed by its client UUID: the idempotency ledger.

    A replay with the same id and the same content is a duplicate and writes nothing; the same
    id with other content is refused. The primary key makes concurrent replays safe.
    """

    __tablename__ = "client_writes"

    id: uuid.UUID = Field(primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    author_id: uuid.UUID = Field(foreign_key="users.id")
    kind: str = Field(max_length=30)
    content_hash: str = Field(max_length=64)
    recorded_at: datetime = Field(sa_type=UTCDateTime)  # the phone's clock
    received_at: datetime = Field(sa_type=UTCDateTime)  # ours
    result: dict = Field(default_factory=dict, sa_type=JSON)
