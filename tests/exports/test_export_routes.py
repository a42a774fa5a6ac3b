"""Export routes: who may export what, bad input refused with nothing written, the audit, the
download's headers, and the HTML forms that lead to them."""

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from app.accounts.models import Role
from app.audit.models import AuditEvent
from app.exports import records
from app.seed import DEMO_PASSWORD, seed_demo
from tests import factories

NOW = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)


@pytest.fixture
def demo(db):
    users = seed_demo(db, NOW)
    db.commit()
    return users


def audits(db) -> list[AuditEvent]:
    """The exports made by the test's requests (the trail also holds sign-ins, views and
    refusals, tests/audit, and the demo seed's own export, which has no request)."""
    db.expire_all()
    return list(db.exec(select(AuditEvent).where(AuditEvent.action == "export",
                                                 col(AuditEvent.request_id).is_not(None))
                        .order_by(AuditEvent.seq)).all())


def finished(db) -> list[AuditEvent]:
    db.expire_all()
    return list(db.exec(select(AuditEvent).where(AuditEvent.action == "export.finished")
                        .order_by(AuditEvent.seq)).all())


def sign_in(auth, email: str):
    response = auth.login(email, DEMO_PASSWORD)
    assert response.status_code == 303, response.text


def patient_url(patient, **query) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/api/v1/patients/{patient.id}/export" + (f"?{params}" if params else "")


FORTNIGHT = {"start": "2026-11-11", "end": "2026-11-24"}


# --- access ---------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["patient@demo.test", "caregiver@demo.test", "other_prescriber"])
@pytest.mark.parametrize("fmt", ["csv", "pdf", "fhir"])
def test_only_the_linked_prescriber_can_export_a_patient(client, auth, db, demo, who, fmt):
    patient = demo["patient@demo.test"]
    if who == "other_prescriber":
        other = factories.user(db, role=Role.PRESCRIBER)
        factories.link(db, demo["patient2@demo.test"], other)  # has patients, not this one
        db.commit()
        assert auth.login(other.email).status_code == 303
    else:
        sign_in(auth, who)
    for url in (patient_url(patient, format=fmt, **FORTNIGHT),
                f"/patients/{patient.id}/export?format={fmt}"):
        response = client.get(url)
        assert response.status_code == 404, (url, response.status_code)
        assert "content-disposition" not in response.headers
    assert audits(db) == []


def test_signed_out_gets_401_and_no_file(client, db, demo):
    response = client.get(patient_url(demo["patient@demo.test"], format="csv"))
    assert response.status_code == 401
    assert client.get("/api/v1/export?format=csv").status_code == 401
    assert audits(db) == []


@pytest.mark.parametrize("who", ["patient@demo.test", "caregiver@demo.test"])
def test_the_panel_export_is_for_prescribers_only(client, auth, db, demo, who):
    sign_in(auth, who)
    response = client.get("/api/v1/export?format=csv")
    assert response.status_code == 403
    assert "prescriber" in response.json()["detail"]
    assert client.get("/patients/export").status_code == 403
    assert audits(db) == []


def test_a_patient_who_does_not_exist_is_404(client, auth, db, demo):
    sign_in(auth, "prescriber@demo.test")
    response = client.get("/api/v1/patients/00000000-0000-4000-8000-000000000000/export")
    assert response.status_code == 404


# --- the linked prescriber's downloads -------------------------------------------------------

def test_the_prescriber_downloads_a_patients_csv_zip_and_it_is_audited(client, auth, db, demo):
    patient, prescriber = demo["patient@demo.test"], demo["prescriber@demo.test"]
    sign_in(auth, "prescriber@demo.test")
    response = client.get(patient_url(patient, format="csv", start="2026-10-01",
                                      end="2026-11-24"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["cache-control"] == "no-store"
    disposition = response.headers["content-disposition"]
    assert disposition == 'attachment; filename="trochelog-export-20261001-20261124.zip"'
    assert "Reyes" not in disposition and str(patient.id) not in disposition
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.namelist() == ["README.txt", "patients.csv", "doses.csv",
                                      "dose_revisions.csv", "gates.csv", "checkins.csv",
                                      "questionnaires.csv", "ledger.csv", "safety_events.csv",
                                      "alerts.csv", "flag_reviews.csv"]
        # The file name says nothing of whose record it is; the zip itself does.
        whose = archive.read("patients.csv").decode("utf-8-sig").splitlines()
        assert whose[0] == "patient_id,timezone,name"
        assert whose[1:] == [f"{patient.id},{patient.timezone},{patient.display_name}"]
        doses = archive.read("doses.csv").decode("utf-8-sig").splitlines()
        assert "taken_at_utc" in doses[0] and "taken_at_local" in doses[0]
    found = records.gather(db, patient, datetime(2026, 10, 1).date(),
                           datetime(2026, 11, 24).date())
    assert len(doses) - 1 == len(found.doses) > 0
    [event] = audits(db)
    assert (event.action, event.actor_id, event.patient_id) == ("export", prescriber.id,
                                                                 patient.id)
    assert event.details == {"format": "csv", "start": "2026-10-01", "end": "2026-11-24",
                             "rows": found.rows()}
    assert found.rows() > len(found.doses)


def test_the_default_range_is_the_last_90_days(client, auth, db, demo):
    sign_in(auth, "prescriber@demo.test")
    patient = demo["patient@demo.test"]
    response = client.get(patient_url(patient))
    assert response.status_code == 200
    [event] = audits(db)
    today = datetime.now(UTC).astimezone(ZoneInfo(patient.timezone)).date()
    assert event.details["format"] == "csv"
    assert event.details["end"] == today.isoformat()
    assert event.details["start"] == (today - timedelta(days=89)).isoformat()


def test_fhir_and_pdf_downloads(client, auth, db, demo):
    sign_in(auth, "prescriber@demo.test")
    patient = demo["patient@demo.test"]
    fhir = client.get(patient_url(patient, format="fhir", **FORTNIGHT))
    assert fhir.status_code == 200, fhir.text
    assert fhir.headers["content-type"] == "application/fhir+json"
    assert fhir.headers["content-disposition"].endswith('-20261111-20261124.json"')
    bundle = json.loads(fhir.content)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    pdf = client.get(patient_url(patient, format="PDF", **FORTNIGHT))
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert [e.details["format"] for e in audits(db)] == ["fhir", "pdf"]


# --- bad input: a readable 422, nothing written ----------------------------------------------

@pytest.mark.parametrize("query, field, words", [
    ({"format": "csv", "start": "2026-11-24", "end": "2026-11-01"}, "start", "on or before"),
    ({"format": "csv", "start": "2025-01-01", "end": "2026-11-24"}, "end", "400 days"),
    ({"format": "xlsx"}, "format", "csv, pdf, fhir"),
    ({"format": "csv", "start": "24/11/2026"}, "start", "YYYY-MM-DD"),
    ({"format": "csv", "end": "2026-02-30"}, "end", "YYYY-MM-DD"),
    ({"format": "csv", "start": "1899-01-01"}, "start", "between"),
])
def test_bad_input_is_a_readable_422_and_writes_nothing(client, auth, db, demo, query, field,
                                                        words):
    sign_in(auth, "prescriber@demo.test")
    response = client.get(patient_url(demo["patient@demo.test"], **query))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith(f"{field}: ") and words in detail, detail
    assert "content-disposition" not in response.headers
    assert audits(db) == []


def test_the_panel_takes_csv_only(client, auth, db, demo):
    sign_in(auth, "prescriber@demo.test")
    response = client.get("/api/v1/export?format=pdf")
    assert response.status_code == 422
    assert response.json()["detail"] == "format: Only csv is available here."
    response = client.get("/api/v1/export?format=csv&start=2026-12-01&end=2026-11-01")
    assert response.status_code == 422
    assert audits(db) == []


# --- the panel, streamed ---------------------------------------------------------------------

def test_the_panel_zip_holds_every_patient_and_is_audited(client, auth, db, demo):
    prescriber = demo["prescriber@demo.test"]
    stranger = factories.user(db, role=Role.PATIENT)  # not on this prescriber's panel
    db.commit()
    sign_in(auth, "prescriber@demo.test")
    response = client.get("/api/v1/export?format=csv&start=2026-10-01&end=2026-11-24")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        'attachment; filename="trochelog-export-20261001-20261124.zip"')
    assert response.headers["cache-control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        doses = archive.read("doses.csv").decode("utf-8-sig").splitlines()
        readme = archive.read("README.txt").decode()
    panel = ("patient@demo.test", "patient2@demo.test", "paciente@demo.test",
             "patient3@demo.test")
    assert "4 patients" in readme
    ids = {line.split(",", 1)[0] for line in doses[1:]}
    assert ids == {str(demo[e].id) for e in panel}
    assert str(stranger.id) not in response.content.decode("latin-1")
    expected = sum(records.gather(db, demo[e], datetime(2026, 10, 1).date(),
                                  datetime(2026, 11, 24).date()).rows()
                   for e in panel)
    [event] = audits(db)
    assert (event.actor_id, event.patient_id) == (prescriber.id, None)
    assert event.details == {"format": "csv", "start": "2026-10-01", "end": "2026-11-24",
                             "rows": None, "patients": 4, "complete": False}
    [done] = finished(db)
    assert (done.actor_id, done.patient_id) == (prescriber.id, None)
    assert done.details == {"export": str(event.id), "rows": expected, "complete": True}


# --- the HTML forms ------------------------------------------------------------------------

def test_the_patient_page_and_the_list_offer_exports(client, auth, demo):
    sign_in(auth, "prescriber@demo.test")
    patient = demo["patient@demo.test"]
    page = client.get(f"/patients/{patient.id}").text
    assert f'action="/patients/{patient.id}/export"' in page
    for fmt in ("csv", "pdf", "fhir"):
        assert f'name="format" value="{fmt}"' in page
    listing = client.get("/patients").text
    assert 'action="/patients/export"' in listing and 'name="format" value="csv"' in listing


def test_the_export_form_redirects_to_the_download(client, auth, demo):
    sign_in(auth, "prescriber@demo.test")
    patient = demo["patient@demo.test"]
    page = client.get(f"/patients/{patient.id}/export")
    assert page.status_code == 200 and 'type="date"' in page.text
    response = client.get(f"/patients/{patient.id}/export?format=pdf&start=2026-11-01&end=")
    assert response.status_code == 303
    today = datetime.now(UTC).astimezone(ZoneInfo(patient.timezone)).date()
    assert response.headers["location"] == (
        f"/api/v1/patients/{patient.id}/export?format=pdf&start=2026-11-01"
        f"&end={today.isoformat()}")
    panel = client.get("/patients/export?format=csv&start=2026-11-01&end=2026-11-24")
    assert panel.status_code == 303
    assert panel.headers["location"] == "/api/v1/export?format=csv&start=2026-11-01&end=2026-11-24"


def test_a_bad_range_in_the_form_comes_back_with_the_message_next_to_the_field(client, auth,
                                                                            db, demo):
    sign_in(auth, "prescriber@demo.test")
    patient = demo["patient@demo.test"]
    response = client.get(f"/patients/{patient.id}/export?format=csv&start=2026-11-24"
                          "&end=2026-11-01")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert 'id="start-error"' in html and "on or before the end date" in html
    assert 'value="2026-11-24"' in html and 'value="2026-11-01"' in html  # what they typed
    assert 'aria-invalid="true" aria-describedby="start-error"' in html
    panel = client.get("/patients/export?format=csv&start=2024-01-01&end=2026-11-24")
    assert panel.status_code == 422 and 'id="end-error"' in panel.text
    assert audits(db) == []


def test_a_panel_stream_that_fails_midway_is_cut_off_and_logged_without_its_text(
        client, auth, db, demo, monkeypatch, caplog):
    """The headers have gone: no error page can follow. The download ends unfinished (the zip
    cannot be opened, so nobody mistakes it for the whole panel) and the log names the error's
    type, never its text (a database error's message can carry PHI)."""
    from app.exports import api

    def failing(*_args, **_kwargs):
        yield b"PK\x03\x04"
        raise RuntimeError("patient@demo.test took 150 mg")

    monkeypatch.setattr(api, "panel_zip", failing)
    sign_in(auth, "prescriber@demo.test")
    response = client.get("/api/v1/export?format=csv")
    assert response.status_code == 200
    assert response.content == b"PK\x03\x04"
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(response.content))
    assert "unhandled RuntimeError after the answer began on GET /api/v1/export" in caplog.text
    assert "150 mg" not in caplog.text
