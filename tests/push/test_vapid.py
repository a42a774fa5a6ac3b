"""The server's VAPID key pair: made once, shared through the database, or taken from settings."""

import base64
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import Session, select

from app.config import settings
from app.db import engine, utcnow
from app.push import vapid
from app.push.models import ServerKey


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _stored(db) -> dict[str, str]:
    db.expire_all()
    return {row.name: row.value for row in db.exec(select(ServerKey)).all()}


def _new_pair() -> tuple[ec.EllipticCurvePrivateKey, str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    return key, vapid.raw_private(key), vapid.public_point(key)


def test_first_use_makes_one_pair_and_stores_it(db):
    keys = vapid.keys(db)
    db.commit()

    public = _decode(keys.public_key)
    # What PushManager.subscribe() takes as applicationServerKey: the uncompressed point.
    assert len(public) == 65
    assert public[0] == 0x04
    assert "=" not in keys.public_key
    stored = _stored(db)
    assert set(stored) == {vapid.PRIVATE_NAME, vapid.PUBLIC_NAME}
    assert stored[vapid.PUBLIC_NAME] == keys.public_key
    # Raw base64url scalar (what pywebpush reads), not PEM.
    assert len(_decode(stored[vapid.PRIVATE_NAME])) == 32
    assert "BEGIN" not in stored[vapid.PRIVATE_NAME]


def test_a_second_process_signs_with_the_same_pair(db):
    first = vapid.public_key(db)
    db.commit()
    with Session(engine) as other:
        assert vapid.public_key(other) == first
    assert vapid.public_key(db) == first
    assert len(_stored(db)) == 2


def test_a_pair_stored_by_another_process_meanwhile_wins(db, monkeypatch):
    # Another instance stores its pair between this one's read (nothing there) and its insert.
    _, winner_private, winner_public = _new_pair()
    real_generate = ec.generate_private_key

    def generate_while_another_process_stores(curve):
        with Session(engine) as other:
            now = utcnow()
            other.add(ServerKey(name=vapid.PRIVATE_NAME, value=winner_private, created_at=now))
            other.add(ServerKey(name=vapid.PUBLIC_NAME, value=winner_public, created_at=now))
            other.commit()
        return real_generate(curve)

    monkeypatch.setattr(vapid.ec, "generate_private_key", generate_while_another_process_stores)
    assert vapid.public_key(db) == winner_public
    db.commit()
    assert _stored(db) == {vapid.PRIVATE_NAME: winner_private, vapid.PUBLIC_NAME: winner_public}


def test_instances_starting_together_end_up_with_one_pair():
    barrier = threading.Barrier(4, timeout=30)
    results: list[str] = []
    failures: list[BaseException] = []

    def start():
        try:
            with Session(engine) as session:
                barrier.wait()
                results.append(vapid.public_key(session))
                session.commit()
        except BaseException as exc:  # reported below, with the thread's exception
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(set(results)) == 1
    with Session(engine) as session:
        rows = session.exec(select(ServerKey)).all()
    assert {row.name: row.value for row in rows}[vapid.PUBLIC_NAME] == results[0]


def test_settings_key_is_used_and_nothing_is_stored(db, monkeypatch):
    _, private, public = _new_pair()
    monkeypatch.setattr(settings, "vapid_private_key", private)
    keys = vapid.keys(db)
    assert keys.public_key == public
    assert _stored(db) == {}


def test_settings_key_may_be_pem_with_its_public_key(db, monkeypatch):
    key, _, public = _new_pair()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    monkeypatch.setattr(settings, "vapid_private_key", pem)
    monkeypatch.setattr(settings, "vapid_public_key", public)
    assert vapid.public_key(db) == public


def test_a_public_key_that_does_not_match_is_refused(db, monkeypatch):
    _, private, _ = _new_pair()
    _, _, someone_elses = _new_pair()
    monkeypatch.setattr(settings, "vapid_private_key", private)
    monkeypatch.setattr(settings, "vapid_public_key", someone_elses)
    with pytest.raises(ValueError, match="VAPID_PUBLIC_KEY does not belong") as refused:
        vapid.keys(db)
    assert private not in str(refused.value)


def test_an_unreadable_private_key_is_refused_without_echoing_it(db, monkeypatch):
    monkeypatch.setattr(settings, "vapid_private_key", "not-a-key-at-all-secret-ish")
    with pytest.raises(ValueError, match="VAPID_PRIVATE_KEY") as refused:
        vapid.keys(db)
    assert "secret-ish" not in str(refused.value)


def test_a_public_key_alone_is_refused(db, monkeypatch):
    _, _, public = _new_pair()
    monkeypatch.setattr(settings, "vapid_public_key", public)
    with pytest.raises(ValueError, match="without VAPID_PRIVATE_KEY"):
        vapid.keys(db)


@pytest.mark.parametrize("subject", ["clinic@example.org", "mailto:", "http://clinic.example"])
def test_a_subject_push_services_refuse_is_refused(db, monkeypatch, subject):
    monkeypatch.setattr(settings, "vapid_subject", subject)
    with pytest.raises(ValueError, match="VAPID_SUBJECT"):
        vapid.keys(db)


def test_settings_check_needs_no_database(monkeypatch):
    # Startup can call it before anything else: good settings pass, a mismatch does not.
    _, private, public = _new_pair()
    monkeypatch.setattr(settings, "vapid_private_key", private)
    monkeypatch.setattr(settings, "vapid_public_key", public)
    vapid.check_settings()
    monkeypatch.setattr(settings, "vapid_public_key", _new_pair()[2])
    with pytest.raises(ValueError, match="VAPID_PUBLIC_KEY"):
        vapid.check_settings()
