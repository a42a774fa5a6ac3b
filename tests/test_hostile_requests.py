"""Hostile input outside the sync API: forms with text that is not Unicode or extreme dates,
read windows at the ends of the calendar, odd query strings, and oversized bodies. Every case
is a readable 4xx, writes nothing, and is never a 500."""

import re
import uuid
from datetime import date

import pytest
from sqlmodel import func, select

from app.checkins.models import CheckIn
from app.db import utcnow
from app.doses.models import Dose, LedgerEntry
from app.errors import Invalid
from app.protocols import service as protocols
from app.protocols.models import ProtocolVersion
from app.web.limits import API_MAX_BODY_BYTES, FORM_MAX_BODY_BYTES
from tests import factories
from tests.protocols.test_routes import FORM as PROTOCOL_FORM


def count(db, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


def field_error(html: str, name: str) -> str | None:
    match = re.search(rf'<p class="field-error" id="{name}-error">([^<]*)</p>', html)
    return match.group(1) if match else None


@pytest.fixture
def patient(db, auth):
    _, patient, _ = factories.patient_with_protocol(db)
    db.commit()
    auth.login(patient.email)
    return patient


def csrf(client) -> str:
    return client.get("/api/v1/me").json()["csrf_token"]


# --- text in forms --------------------------------------------------------------------------


def _multipart(fields: dict[str, bytes], charset: str) -> tuple[bytes, str]:
    boundary = "hostileboundary"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     .encode() + value + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}; charset={charset}"


def test_a_form_decoding_to_a_lone_surrogate_is_refused(db, client, patient):
    # A multipart form may name its charset; UTF-7 decodes "+2AA-" to a lone surrogate.
    body, content_type = _multipart({"csrf_token": csrf(client).encode(),
                                     "client_id": str(uuid.uuid4()).encode(),
                                     "mood": b"5", "note": b"a+2AA-b"}, "utf-7")
    response = client.post("/checkins/daily", content=body,
                           headers={"Content-Type": content_type})
    assert response.status_code == 422, response.text
    assert "cannot be saved" in response.text
    assert count(db, CheckIn) == 0
    assert client.get("/api/v1/checkins").status_code == 200


def test_a_form_field_name_with_a_nul_is_refused(db, client, patient):
    response = client.post("/checkins/daily", content=(
        f"csrf_token={csrf(client)}&client_id={uuid.uuid4()}&mood=5&no%00te=x").encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 422
    assert "cannot be saved" in response.text
    assert count(db, CheckIn) == 0


def test_invalid_utf8_in_a_form_is_stored_as_valid_text(db, client, patient):
    # %ED%A0%80 is a UTF-8 encoded surrogate: it decodes to replacement characters, which are
    # valid text, so the check-in is saved and reads back.
    response = client.post("/checkins/daily", content=(
        f"csrf_token={csrf(client)}&client_id={uuid.uuid4()}&mood=5&note=a%ED%A0%80b").encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 303, response.text
    reads = client.get("/api/v1/checkins")
    assert reads.status_code == 200
    (checkin,) = reads.json()["checkins"]
    note = checkin["values"]["note"]
    assert note.startswith("a") and note.endswith("b")
    note.encode("utf-8")  # valid text
    assert client.get("/checkins").status_code == 200


# --- extreme dates in forms -----------------------------------------------------------------

LOCAL_EXTREMES = ["0001-01-01T00:00", "9999-12-31T23:59", "0001-01-01T00:00+01:00",
                  "9999-12-31T23:59:59-01:00", "1999-12-31T12:00"]


@pytest.mark.parametrize("when", LOCAL_EXTREMES)
def test_an_extreme_dose_time_in_the_form_is_a_422_by_the_field(db, auth, patient, when):
    response = auth.post("/today/dose", {
        "dose_client_id": str(uuid.uuid4()), "dose_mg": "100", "route": "sublingual",
        "taken_at": when,
    })
    assert response.status_code == 422, response.text
    assert "2000" in (field_error(response.text, "taken_at-late") or "")  # the late-dose form
    assert count(db, Dose) == 0


@pytest.mark.parametrize("when", LOCAL_EXTREMES)
def test_an_extreme_count_time_in_the_form_is_a_422_by_the_field(db, auth, patient, when):
    response = auth.post("/supply/count", {
        "count_client_id": str(uuid.uuid4()), "count_count": "3", "count_counted_at": when,
    })
    assert response.status_code == 422, response.text
    assert "2000" in (field_error(response.text, "count_counted_at") or "")
    assert count(db, LedgerEntry) == 0


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01"])
def test_an_extreme_fill_date_in_the_form_is_a_422_by_the_field(db, auth, patient, day):
    response = auth.post("/supply/fill", {
        "fill_client_id": str(uuid.uuid4()), "fill_filled_on": day, "fill_count": "10",
        "fill_strength_mg": "100",
    })
    assert response.status_code == 422, response.text
    assert "2000" in (field_error(response.text, "fill_filled_on") or "")
    assert count(db, LedgerEntry) == 0


@pytest.fixture
def prescriber(db, login_as):
    prescriber = login_as("prescriber")
    patient = factories.user(db, role="patient")
    factories.protocol(db, prescriber, patient)
    db.commit()
    return prescriber, patient


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "2101-01-01"])
def test_an_extreme_protocol_start_is_a_422_by_the_field(db, auth, prescriber, day):
    _, patient = prescriber
    before = count(db, ProtocolVersion)
    response = auth.post(f"/patients/{patient.id}/protocol",
                         {**PROTOCOL_FORM, "starts_on": day, "client_id": str(uuid.uuid4())})
    assert response.status_code == 422, response.text
    assert "2000" in (field_error(response.text, "starts_on") or "")
    assert count(db, ProtocolVersion) == before


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "2101-01-01"])
def test_an_extreme_phase_change_date_is_a_422_by_the_field(db, auth, prescriber, day):
    _, patient = prescriber
    before = count(db, ProtocolVersion)
    response = auth.post(f"/patients/{patient.id}/phase", {
        "phase_client_id": str(uuid.uuid4()), "phase": "induction", "effective_on": day,
        "phase_reason": "Testing the edges.",
    })
    assert response.status_code == 422, response.text
    assert "2000" in (field_error(response.text, "effective_on") or "")
    assert count(db, ProtocolVersion) == before


def test_extreme_dates_from_service_callers_are_refused(db):
    """The services refuse these too, whoever calls them (the CLI, the seed, a future API)."""
    prescriber, patient, _ = factories.patient_with_protocol(db)
    with pytest.raises(Invalid) as err:
        factories.protocol(db, prescriber, patient, starts_on="9999-12-31")
    assert "starts_on" in err.value.errors
    with pytest.raises(Invalid) as err:
        protocols.change_phase(db, prescriber=prescriber, patient_id=patient.id,
                               version_id=uuid.uuid4(), phase="induction",
                               effective_on=date(9999, 12, 31), reason="x", now=utcnow())
    assert "effective_on" in err.value.errors
    db.rollback()


# --- read windows and query strings ----------------------------------------------------------

READ_APIS = ["/api/v1/doses", "/api/v1/checkins", "/api/v1/questionnaires"]


@pytest.mark.parametrize("path", READ_APIS)
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("end=0001-01-02T00:00:00Z", "end"),
        ("end=9999-12-31T23:59:59-01:00", "end"),
        ("start=0001-01-01T00:00:00%2B01:00", "start"),
        ("start=0001-01-01T00:00:00Z&end=0001-02-01T00:00:00Z", "start"),
        ("start=9999-12-01T00:00:00Z&end=9999-12-31T23:59:59Z", "start"),
        ("start=2101-01-01T00:00:00Z", "start"),
    ],
)
def test_an_extreme_read_window_is_a_readable_422(client, patient, path, query, field):
    response = client.get(f"{path}?{query}")
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"{field}: ") and "2000" in detail and "2100" in detail


@pytest.mark.parametrize("path", READ_APIS)
@pytest.mark.parametrize("query", ["start=a%00b", "start=%00", "end=%ED%A0%80",
                                   "patient_id=%00", "patient_id=%ED%A0%80",
                                   "start=2026-01-01T00:00:00%00Z"])
def test_an_odd_query_string_is_a_422(client, patient, path, query):
    response = client.get(f"{path}?{query}")
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    assert "\x00" not in detail


def test_a_sane_read_window_still_works(client, patient):
    response = client.get("/api/v1/doses?start=2026-01-01T00:00:00Z&end=2026-02-01T00:00:00Z")
    assert response.status_code == 200
    assert response.json() == {"doses": []}


# --- body size ------------------------------------------------------------------------------


def _big_sync_body(size: int) -> bytes:
    filler = "x" * size
    return ('{"items": [], "pad": "' + filler + '"}').encode()


def test_an_api_body_over_the_limit_is_a_413_with_json(db, client, patient):
    body = _big_sync_body(API_MAX_BODY_BYTES)
    response = client.post("/api/v1/sync", content=body,
                           headers={"X-CSRF-Token": csrf(client),
                                    "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/json")
    assert "1 MiB" in response.json()["detail"]


def test_a_streamed_api_body_over_the_limit_is_a_413(db, client, patient):
    body = _big_sync_body(API_MAX_BODY_BYTES)

    def chunks():  # no Content-Length: the body arrives chunked
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    response = client.post("/api/v1/sync", content=chunks(),
                           headers={"X-CSRF-Token": csrf(client),
                                    "Content-Type": "application/json"})
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 413
    assert "1 MiB" in response.json()["detail"]


def test_an_api_body_under_the_limit_is_read(db, client, patient):
    body = _big_sync_body(API_MAX_BODY_BYTES - 1000)
    response = client.post("/api/v1/sync", content=body,
                           headers={"X-CSRF-Token": csrf(client),
                                    "Content-Type": "application/json"})
    assert response.status_code == 422  # read and refused for its unknown field, not its size
    assert "pad" in response.json()["detail"]


def test_a_lying_content_length_is_not_trusted(db, client, patient):
    # Says 10 bytes, sends more: the counted bytes decide.
    body = _big_sync_body(API_MAX_BODY_BYTES)

    def chunks():
        yield body

    response = client.post("/api/v1/sync", content=chunks(),
                           headers={"X-CSRF-Token": csrf(client), "Content-Length": "10",
                                    "Content-Type": "application/json"})
    assert response.status_code == 413, response.text


@pytest.mark.parametrize("chunked", [False, True])
def test_a_form_body_over_the_limit_is_a_413_page(db, client, patient, chunked):
    body = (f"csrf_token={csrf(client)}&client_id={uuid.uuid4()}&mood=5&note="
            + "x" * FORM_MAX_BODY_BYTES).encode()
    content = (lambda: iter([body[:1000], body[1000:]]))() if chunked else body
    response = client.post("/checkins/daily", content=content,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "256 KiB" in response.text
    assert 'aria-label="Main"' in response.text  # a page of the app, with its navigation
    assert count(db, CheckIn) == 0


def test_a_form_under_the_limit_is_fine(db, client, patient):
    response = client.post("/checkins/daily", content=(
        f"csrf_token={csrf(client)}&client_id={uuid.uuid4()}&mood=5&note=ok&pad="
        + "x" * (FORM_MAX_BODY_BYTES - 1000)).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 303, response.text
    assert count(db, CheckIn) == 1



def test_a_non_ascii_csrf_token_is_a_403_not_a_crash(db, client, patient):
    # hmac.compare_digest raises on non-ASCII text; the check must refuse, not fail.
    form = client.post("/checkins/daily", content=b"csrf_token=%C3%A9&mood=5",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 403
    header = client.post("/api/v1/sync", content=b'{"items": []}',
                         headers={"X-CSRF-Token": "\xe9".encode("latin-1"),
                                  "Content-Type": "application/json"})
    assert header.status_code == 403
    assert "expired" in header.json()["detail"]
    assert count(db, CheckIn) == 0
