"""A long patient list comes a page at a time (most urgent first across all pages, the filters
kept, plain links that work without JavaScript), and only the patients on the page shown are
written in the audit trail; the timeline goes back a stretch of days at a time."""

import html
import re
from datetime import timedelta

import pytest
from sqlmodel import col, select

from app.audit.models import AuditEvent
from app.clinic.service import PAGE_SIZE
from app.db import utcnow
from app.seed import DEMO_PASSWORD, seed_demo
from tests import factories
from tests.clinic.test_patient_list import dose, on_protocol, order_on_page

MORE = 5


@pytest.fixture
def long_list(db):
    """PAGE_SIZE + MORE patients of one prescriber; the one named last has a flag, so the most
    urgent comes first although the name sorts last."""
    prescriber = factories.user(db, role="prescriber")
    for i in range(PAGE_SIZE + MORE - 1):
        factories.link(db, factories.user(db, display_name=f"Calm {i:03d}"), prescriber)
    urgent, version = on_protocol(db, prescriber, "Zoe Urgent")
    dose(db, urgent, version)  # taken through an override
    db.commit()
    return prescriber, urgent


def _link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return html.unescape(found.group(1)) if found else None


def _listed_views(db, response) -> set[str]:
    db.expire_all()
    rows = db.exec(select(AuditEvent).where(
        AuditEvent.action == "view",
        AuditEvent.request_id == response.headers["x-request-id"])).all()
    assert all(r.details == {"purpose": "view", "list": True} for r in rows)
    return {str(r.patient_id) for r in rows}


def test_the_list_comes_a_page_at_a_time_most_urgent_first(long_list, auth, client, db):
    prescriber, urgent = long_list
    assert auth.login(prescriber.email).status_code == 303
    first = client.get("/patients")
    assert first.status_code == 200
    shown = order_on_page(first.text)
    assert len(shown) == PAGE_SIZE and shown[0] == str(urgent.id)
    assert f"Patients 1–{PAGE_SIZE} of {PAGE_SIZE + MORE}" in first.text
    assert _link(first.text, "prev") is None
    # Only the patients shown are written as viewed.
    assert _listed_views(db, first) == set(shown)

    second = client.get(_link(first.text, "next"))
    assert second.status_code == 200
    rest = order_on_page(second.text)
    assert len(rest) == MORE and not set(rest) & set(shown)
    assert _link(second.text, "next") is None
    assert _link(second.text, "prev") == "/patients"
    assert _listed_views(db, second) == set(rest)
    # A page past the end is the last page; nonsense is the first.
    assert order_on_page(client.get("/patients?page=99").text) == rest
    assert order_on_page(client.get("/patients?page=9223372036854775807").text) == rest
    assert order_on_page(client.get("/patients?page=x").text) == shown


def test_the_next_page_keeps_the_filters_and_a_review_comes_back_to_its_page(long_list, auth,
                                                                           client, db):
    prescriber, _urgent = long_list
    assert auth.login(prescriber.email).status_code == 303
    # The search is posted; the list's address carries it sealed, never as typed (a name in
    # an address is in every proxy's log and the browser's history).
    searched = auth.post("/patients", {"q": "calm", "flag": ""})
    assert searched.status_code == 303
    here = searched.headers["location"]
    assert here.startswith("/patients?find=") and "calm" not in here.lower()
    first = client.get(here)
    assert str(_urgent.id) not in order_on_page(first.text)
    assert 'value="calm"' in first.text  # the box still shows what was searched
    following = _link(first.text, "next")
    assert following.startswith("/patients?find=") and following.endswith("&page=2")
    assert "calm" not in following.lower()
    second = client.get(following)
    assert len(order_on_page(second.text)) == PAGE_SIZE + MORE - 1 - PAGE_SIZE
    assert f'name="next" value="{html.escape(following)}"' in second.text or (
        "No open flags." in second.text)  # no flag to review on that page: no form
    # A sealed search that was altered, or made with another secret: said, not a 500.
    broken = client.get(following.replace("find=gA", "find=gB"))
    assert broken.status_code == 422
    assert "That search can no longer be read. Search again." in html.unescape(broken.text)


def test_the_api_pages_too_and_says_where_the_next_page_is(long_list, auth, client):
    prescriber, urgent = long_list
    assert auth.login(prescriber.email).status_code == 303
    response = client.get("/api/v1/patients")
    assert response.status_code == 200
    assert response.headers["x-total-count"] == str(PAGE_SIZE + MORE)
    assert response.json()[0]["id"] == str(urgent.id)
    assert "link" not in response.headers  # 55 fit on one page of the API (100)


def _days(page: str) -> list[str]:
    return re.findall(r'<h3 class="timeline-day">([^<]+)</h3>', page)


def test_the_timeline_goes_back_a_stretch_at_a_time(db, client, auth):
    users = seed_demo(db, utcnow() - timedelta(days=30))  # the demo's weeks end a month ago
    db.commit()
    patient = users["patient@demo.test"]
    assert auth.login("prescriber@demo.test", DEMO_PASSWORD).status_code == 303
    page = client.get(f"/patients/{patient.id}").text
    assert "Dose 150 mg" not in page[page.index('id="timeline-heading"'):]
    older = _link(page, "next")
    assert older and "until=" in older and _link(page, "prev") is None
    back = client.get(older).text
    assert not set(_days(back)) & set(_days(page))
    back = client.get(_link(back, "next")).text  # a month back: the demo's last sessions
    assert "Dose 150 mg" in back[back.index('id="timeline-heading"'):]
    assert _link(back, "prev")  # and a way back to newer days
    # An unreadable or future `until` is today.
    assert _days(client.get(f"/patients/{patient.id}?until=2999-01-01").text) == _days(page)
    assert _days(client.get(f"/patients/{patient.id}?until=nonsense").text) == _days(page)


def test_views_of_a_page_are_written_in_one_insert(long_list, auth, client, db):
    prescriber, _urgent = long_list
    assert auth.login(prescriber.email).status_code == 303
    before = db.exec(select(AuditEvent.seq).order_by(col(AuditEvent.seq).desc())).first()
    client.get("/patients")
    db.expire_all()
    count = len(db.exec(select(AuditEvent).where(col(AuditEvent.seq) > before,
                                                 AuditEvent.action == "view")).all())
    assert count == PAGE_SIZE


def test_the_apis_next_page_carries_the_search_sealed(long_list, auth, client, monkeypatch):
    """The API's `Link` to the next page kept the search as `q=<a name>`: a client following it
    put the name in every address it asked for. It carries it sealed, as the page does."""
    from app.clinic import api

    monkeypatch.setattr(api, "API_PAGE_SIZE", 20)
    prescriber, _urgent = long_list
    assert auth.login(prescriber.email).status_code == 303
    first = client.get("/api/v1/patients", params={"q": "Calm 0"})
    assert first.status_code == 200
    assert first.headers["x-total-count"] == str(PAGE_SIZE + MORE - 1)  # not Zoe
    link = re.fullmatch(r'<(/api/v1/patients\?[^>]+)>; rel="next"', first.headers["link"])
    assert link and "Calm" not in link.group(1) and "q=" not in link.group(1)
    second = client.get(link.group(1))
    assert second.status_code == 200
    names = [row["name"] for row in first.json() + second.json()]
    assert len(names) == 40 and len(set(names)) == 40
    assert all(name.startswith("Calm 0") for name in names)

    tampered = client.get(link.group(1).replace("find=", "find=x"))
    assert tampered.status_code == 422
    assert tampered.json()["detail"] == "That search can no longer be read. Search again."
