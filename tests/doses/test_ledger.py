"""The troche count ledger: fills add, doses subtract, counts check, early refills are flagged."""

import math
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select

from app.db import utcnow
from app.doses import corrections, ledger, service
from app.doses.models import Dose, LedgerEntry, LedgerKind
from app.errors import Invalid
from app.protocols import service as protocols
from tests import factories
from tests.factories import sync_item, sync_post
from tests.helpers import names_error

NY = ZoneInfo("America/New_York")


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A time in January 2026, New York (the default protocol's zone), as UTC."""
    return datetime(2026, 1, day, hour, minute, tzinfo=NY).astimezone(UTC)


def count_rows(db) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(LedgerEntry)).one()


@pytest.fixture
def world(db):
    # 100 mg troches, halving allowed, 100 mg a session: Mon/Thu 10:00 from Mon 5 January for
    # four weeks, then weekly; early refill flagged above 7 days of supply.
    _, patient, version = factories.patient_with_protocol(db, now=at(1))
    return patient, version


def fill(db, patient, now, *, filled_on: date | None = None, count=20, **extra):
    data = {"filled_on": (filled_on or now.astimezone(NY).date()).isoformat(), "count": count,
            "strength_mg": "100", **extra}
    return ledger.record_fill(db, patient=patient, entry_id=uuid.uuid4(), data=data, now=now)


def count_check(db, patient, now, counted):
    return ledger.record_count(db, patient=patient, entry_id=uuid.uuid4(),
                                data={"counted_at": now.isoformat(), "count": counted}, now=now)


def take(db, patient, when, mg="100"):
    return service.record_dose(db, patient=patient, dose_id=uuid.uuid4(), recorded_at=when,
                               data={"taken_at": when.isoformat(), "dose_mg": mg,
                                     "route": "sublingual",
                                         "no_gate_reason": "Logged later."}, now=when)


def balance(db, patient, now) -> Decimal:
    return ledger.ledger_summary(db, patient, now).balance


def test_fills_add_and_doses_subtract_their_troches(db, world):
    patient, _ = world
    entry = fill(db, patient, at(2), count=20, pharmacy="Eastside", rx_number="RX-1", lot="L1")
    assert entry.kind == LedgerKind.FILL and entry.count == 20
    assert entry.occurred_at == at(2, 12)  # the fill date, at local noon
    assert entry.flags == []  # nothing on hand before: not early
    assert balance(db, patient, at(3)) == 20

    take(db, patient, at(5, 10, 5))  # 100 mg = 1 troche
    take(db, patient, at(8, 10, 5), mg="150")  # 150 mg = 1.5 troches
    assert balance(db, patient, at(9)) == Decimal("17.5")
    # The balance is "as of": before the second dose it was 19.
    assert balance(db, patient, at(7)) == 19


def test_a_fill_recorded_in_the_morning_counts_at_once(db, world):
    patient, _ = world
    entry = fill(db, patient, at(9, 9), count=12)
    assert entry.occurred_at == at(9, 9)
    # Counting right after picking it up: no discrepancy.
    assert count_check(db, patient, at(9, 9, 30), "12").flags == []
    # A fill dated earlier still counts from that day's noon.
    assert fill(db, patient, at(9, 10), filled_on=date(2026, 1, 8), count=1).occurred_at == \
        at(8, 12)


def test_a_count_a_few_seconds_after_a_fill_in_the_same_minute_counts_it(db, world):
    """A fill saved at 8:14:37, then a count with the form's minute, 8:14: the count sorted
    before the fill, so it expected the supply without the fill (a false discrepancy) and the
    fill was added again on top of what was counted (10 troches too many everywhere)."""
    patient, _ = world
    fill(db, patient, at(2), count=5)
    filled = fill(db, patient, at(9, 8, 14) + timedelta(seconds=37), count=10)
    counted = ledger.record_count(db, patient=patient, entry_id=uuid.uuid4(), data={
        "counted_at": at(9, 8, 14).isoformat(), "count": "15"},
        now=at(9, 8, 14) + timedelta(seconds=50))
    assert counted.expected_balance == 15 and counted.flags == []
    assert filled.occurred_at <= counted.occurred_at
    assert balance(db, patient, at(9, 8, 20)) == 15


def test_a_dose_at_a_counts_own_minute_is_subtracted_once(db, world):
    """A dose and a count at the same minute: the count's expected left the dose out, and so
    did the balance after it, so its troche was never subtracted (the PDF subtracted it)."""
    patient, _ = world
    fill(db, patient, at(2), count=10)
    take(db, patient, at(5, 10, 0))
    counted = count_check(db, patient, at(5, 10, 0), "9")
    assert counted.expected_balance == 9 and counted.flags == []
    assert balance(db, patient, at(5, 11)) == 9


def test_a_count_before_a_fill_in_the_same_minute_stays_before_it(db, world):
    patient, _ = world
    fill(db, patient, at(2), count=5)
    counted = count_check(db, patient, at(9, 8, 14), "5")
    fill(db, patient, at(9, 8, 14) + timedelta(seconds=50), count=10)
    assert counted.flags == []
    assert balance(db, patient, at(9, 8, 20)) == 15


def test_a_count_records_expected_and_counted_and_flags_a_discrepancy(db, world):
    patient, _ = world
    fill(db, patient, at(2), count=20)
    take(db, patient, at(5, 10, 5))
    take(db, patient, at(8, 10, 5), mg="150")

    short = count_check(db, patient, at(9), "17")
    assert short.kind == LedgerKind.COUNT
    assert short.expected_balance == Decimal("17.5") and short.count == 17
    assert short.flags == ["discrepancy"]
    summary = ledger.ledger_summary(db, patient, at(9, 13))
    assert summary.balance == 17  # the count is the new truth
    assert summary.last_count.id == short.id
    assert [e.id for e in summary.discrepancies] == [short.id]

    take(db, patient, at(12, 10, 5))
    exact = count_check(db, patient, at(12, 13), "16")
    assert exact.expected_balance == 16 and exact.flags == []
    assert [e.id for e in ledger.ledger_summary(db, patient, at(13)).discrepancies] == [
        short.id]


def test_half_troches_can_be_counted(db, world):
    patient, _ = world
    fill(db, patient, at(2), count=4)
    take(db, patient, at(5, 10, 5), mg="50")
    entry = count_check(db, patient, at(6), "3.5")
    assert entry.flags == [] and entry.count == Decimal("3.5")


def test_many_fractional_doses_subtract_exactly(db, world):
    # The database sums the doses; SQLite sums NUMERIC as floating point (ten 0.1s are not 1
    # there), so the total comes back to the ledger's two places.
    patient, version = world
    fill(db, patient, at(2), count=20)
    for day in range(30):
        db.add(Dose(id=uuid.uuid4(), patient_id=patient.id, protocol_version_id=version.id,
                    taken_at=at(3, 9) + timedelta(days=day),
                    recorded_at=at(2), received_at=at(2), dose_mg=Decimal(10),
                    troches=Decimal("0.1"), route="sublingual", hold_minutes=15,
                    flags=[], no_gate_reason="test"))
    db.flush()
    assert balance(db, patient, at(3) + timedelta(days=40)) == Decimal("17.00")


def test_doses_entered_in_error_give_their_troches_back(db, world):
    patient, _ = world
    fill(db, patient, at(2), count=10)
    wrong = take(db, patient, at(5, 10, 5))
    assert balance(db, patient, at(6)) == 9
    corrections.mark_entered_in_error(db, patient=patient, author=patient, dose_id=wrong.id,
                                  revision_id=uuid.uuid4(), reason="Never taken.", now=at(6))
    assert balance(db, patient, at(6)) == 10


def test_days_of_supply_at_the_current_schedule(db, world):
    patient, _ = world
    fill(db, patient, at(2), count=7)
    # From Fri 9 January the next four weeks hold 7 sessions (6 induction, 1 maintenance) of
    # one troche each: 1.75 troches a week, so 7 troches last 28 days.
    summary = ledger.ledger_summary(db, patient, at(9))
    assert summary.balance == 7
    assert summary.days_of_supply == 28
    assert ledger.troches_per_week(protocols.current(db, patient.id),
                                    patient.timezone, at(9)) == Decimal("1.75")
    # In maintenance (one troche a week) the same 7 troches last seven weeks.
    later = datetime(2026, 2, 20, 12, tzinfo=NY).astimezone(UTC)
    fill(db, patient, later, count=7)
    assert ledger.ledger_summary(db, patient, later).days_of_supply == 14 * 7


def test_days_of_supply_never_goes_negative(db, world):
    patient, _ = world
    take(db, patient, at(5, 10, 5))
    summary = ledger.ledger_summary(db, patient, at(6))
    assert summary.balance == -1 and summary.days_of_supply == 0


def test_an_early_refill_is_flagged(db, world):
    patient, _ = world
    first = fill(db, patient, at(2), count=20)
    assert first.flags == []
    # 20 troches on hand cover far more than 7 days: a refill now is early.
    early = fill(db, patient, at(3), count=20)
    assert early.flags == ["early_refill"]


def test_a_refill_when_supply_runs_low_is_not_early(db, world):
    patient, _ = world
    fill(db, patient, at(2), count=2)
    take(db, patient, at(5, 10, 5))
    # One troche left at 1.75 a week lasts 4 days: within the 7-day window, not early.
    assert fill(db, patient, at(9), count=20).flags == []


def test_a_fill_of_another_strength_is_flagged(db, world):
    patient, _ = world
    entry = fill(db, patient, at(2), count=10, strength_mg="50")
    assert entry.flags == ["strength_mismatch"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": -5}, "count"),
        ({"count": 501}, "count"),
        ({"count": 2.5}, "count"),
        ({"strength_mg": "0"}, "strength_mg"),
        ({"strength_mg": "NaN"}, "strength_mg"),
        ({"filled_on": "next week"}, "filled_on"),
        ({"filled_on": "2026-01-12"}, "filled_on"),  # in the future
        ({"filled_on": "2025-11-30"}, "filled_on"),  # more than 30 days ago
        ({"rx_number": "x" * 61}, "rx_number"),
        ({"color": "blue"}, "color"),
    ],
)
def test_bad_fills_are_refused(db, world, data, field):
    patient, _ = world
    values = {"filled_on": "2026-01-02", "count": 20, "strength_mg": "100", **data}
    with pytest.raises(Invalid) as caught:
        ledger.record_fill(db, patient=patient, entry_id=uuid.uuid4(), data=values, now=at(9))
    assert field in caught.value.errors
    assert count_rows(db) == 0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"count": "-1"}, "count"),
        ({"count": "1001"}, "count"),
        ({"count": "Infinity"}, "count"),
        ({"count": "1.25"}, "count"),
        ({"counted_at": "2026-01-09T12:00:00"}, "counted_at"),  # no offset
        ({"counted_at": at(9, 13).isoformat()}, "counted_at"),  # an hour ahead
    ],
)
def test_bad_counts_are_refused(db, world, data, field):
    patient, _ = world
    values = {"counted_at": at(9).isoformat(), "count": "5", **data}
    with pytest.raises(Invalid) as caught:
        ledger.record_count(db, patient=patient, entry_id=uuid.uuid4(), data=values,
                             now=at(9))
    assert field in caught.value.errors
    assert count_rows(db) == 0


# --- through the API and the /supply page (real clock) ----------------------------------------


@pytest.fixture
def patient(db, login_as):
    patient = login_as("patient")
    prescriber = factories.user(db, role="prescriber")
    factories.protocol(db, prescriber, patient,
                       starts_on=(utcnow().astimezone(NY) - timedelta(days=7)).date().isoformat())
    db.commit()
    return patient


def _today() -> str:
    return utcnow().astimezone(NY).date().isoformat()


def test_fill_and_count_through_sync(db, client, patient):
    # Filled yesterday: a fill dated today counts from local noon or the server's "now", which
    # before noon comes after this count's time.
    yesterday = (utcnow().astimezone(NY).date() - timedelta(days=1)).isoformat()
    response = sync_post(
        client,
        sync_item("ledger_fill", {"filled_on": yesterday, "count": 12, "strength_mg": "100",
                                  "pharmacy": "Eastside", "rx_number": "RX-9", "lot": "K-1"}),
        sync_item("ledger_count", {"counted_at": utcnow().isoformat(), "count": "11.5"}),
    )
    fill_result, count_result = response.json()["results"]
    assert fill_result["status"] == "created" and fill_result["flags"] == []
    assert count_result["status"] == "created"
    assert count_result["flags"] == ["discrepancy"]
    assert Decimal(count_result["expected"]) == 12
    assert Decimal(count_result["difference"]) == Decimal("-0.5")
    body = client.get("/api/v1/today").json()
    assert Decimal(body["ledger"]["balance"]) == Decimal("11.5")
    assert body["ledger"]["days_of_supply"] is not None


def test_supply_page_shows_balance_days_and_discrepancies(db, client, patient):
    now = utcnow()
    fill(db, patient, now - timedelta(hours=2), count=12)
    count_check(db, patient, now - timedelta(hours=1), "10")
    db.commit()
    page = client.get("/supply").text
    assert re.search(r'<p class="big-number">10 <span>troches</span></p>', page)
    assert re.search(r"About \d+ days at your current schedule\.", page)
    assert "10 counted, 12 expected." in page
    assert "discrepancy" in page


def test_supply_fill_form(db, auth, client, patient):
    page = client.get("/supply").text
    client_id = re.search(r'name="fill_client_id" value="([^"]+)"', page).group(1)
    assert f'value="{_today()}"' in page and 'id="fill_strength_mg"' in page
    response = auth.post("/supply/fill", {
        "fill_client_id": client_id, "fill_filled_on": _today(), "fill_count": "12",
        "fill_strength_mg": "100", "fill_pharmacy": "Eastside", "fill_rx_number": "",
        "fill_lot": "",
    })
    assert response.status_code == 303
    assert response.headers["location"] == "/supply?saved=fill"
    again = auth.post("/supply/fill", {
        "fill_client_id": client_id, "fill_filled_on": _today(), "fill_count": "12",
        "fill_strength_mg": "100", "fill_pharmacy": "Eastside", "fill_rx_number": "",
        "fill_lot": "",
    })
    assert again.status_code == 303  # a double submit saves once, without an error
    (entry,) = db.exec(select(LedgerEntry)).all()
    assert entry.count == 12 and entry.pharmacy == "Eastside" and entry.rx_number is None
    page = client.get("/supply?saved=fill").text
    assert "Saved." in page and "+12" in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"fill_count": "0"}, "fill_count", "Enter 1 or more."),
        ({"fill_count": "twelve"}, "fill_count", "Enter a whole number."),
        ({"fill_count": ""}, "fill_count", "This is required."),
        ({"fill_filled_on": ""}, "fill_filled_on", "This is required."),
        ({"fill_strength_mg": "-100"}, "fill_strength_mg", "Enter more than 0."),
        # Pydantic's own English showed for these two ("Input should be a valid date or
        # datetime, day value is outside expected range", "String should have at most 60
        # characters"), in English on a Spanish phone too.
        ({"fill_filled_on": "2026-02-30"}, "fill_filled_on", "Enter a date as YYYY-MM-DD."),
        ({"fill_lot": "K" * 61}, "fill_lot", "Use at most 60 characters."),
    ],
)
def test_supply_fill_form_bad_input_is_shown_again(db, auth, patient, changes, field,
                                                   message):
    form = {"fill_client_id": str(uuid.uuid4()), "fill_filled_on": _today(),
            "fill_count": "12", "fill_strength_mg": "100", "fill_pharmacy": "Eastside",
            **changes}
    response = auth.post("/supply/fill", form)
    assert response.status_code == 422
    html = response.text
    assert f'<p class="field-error" id="{field}-error">{message}</p>' in html
    assert names_error(html, f"{field}-error")
    assert 'value="Eastside"' in html  # what was typed is kept
    for name, value in form.items():
        if name.startswith("fill_") and name != "fill_client_id":
            assert f'id="{name}" name="{name}" type' in html
            if value:
                assert re.search(rf'id="{name}"[^>]*value="{re.escape(value)}"', html), name
    assert count_rows(db) == 0


def test_supply_fill_form_errors_in_spanish(db, auth, patient):
    patient.language = "es"
    db.add(patient)
    db.commit()
    response = auth.post("/supply/fill", {
        "fill_client_id": str(uuid.uuid4()), "fill_filled_on": "2026-13-01", "fill_count": "12",
        "fill_strength_mg": "100.005", "fill_pharmacy": "E" * 121})
    assert response.status_code == 422
    html = response.text
    for field, message in (
            ("fill_filled_on", "Escriba una fecha como AAAA-MM-DD."),
            ("fill_strength_mg", "Use como máximo 2 cifras después del punto decimal."),
            ("fill_pharmacy", "Use 120 caracteres como máximo.")):
        assert f'<p class="field-error" id="{field}-error">{message}</p>' in html, field
    assert count_rows(db) == 0


def test_supply_count_form(db, auth, client, patient):
    now = utcnow()
    fill(db, patient, now - timedelta(hours=2), count=12)
    db.commit()
    response = auth.post("/supply/count", {
        "count_client_id": str(uuid.uuid4()), "count_count": "11",
        "count_counted_at": now.astimezone(NY).strftime("%Y-%m-%dT%H:%M"),
    })
    assert response.status_code == 303
    assert response.headers["location"] == "/supply?saved=count"
    assert "11 counted, 12 expected." in client.get("/supply").text


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"count_count": "-1"}, "count_count", "Enter 0 or more."),
        ({"count_count": "lots"}, "count_count", "Enter a number."),
        ({"count_count": ""}, "count_count", None),
        ({"count_counted_at": "yesterday"}, "count_counted_at", "Enter a date and time."),
        ({"count_counted_at": ""}, "count_counted_at", "Enter a date and time."),
    ],
)
def test_supply_count_form_bad_input_is_shown_again(db, auth, patient, changes, field,
                                                    message):
    form = {"count_client_id": str(uuid.uuid4()), "count_count": "11",
            "count_counted_at": utcnow().astimezone(NY).strftime("%Y-%m-%dT%H:%M"), **changes}
    response = auth.post("/supply/count", form)
    assert response.status_code == 422
    html = response.text
    assert f'id="{field}-error"' in html
    if message:
        assert f'<p class="field-error" id="{field}-error">{message}</p>' in html
    for name in ("count_count", "count_counted_at"):
        if form[name]:
            assert re.search(rf'id="{name}"[^>]*value="{re.escape(form[name])}"', html), name
    assert count_rows(db) == 0


def test_prescriber_sees_the_ledger_and_an_early_refill(db, auth, client, patient):
    now = utcnow()
    fill(db, patient, now - timedelta(hours=3), count=20)
    early = fill(db, patient, now - timedelta(hours=2), count=20)
    assert early.flags == ["early_refill"]
    count_check(db, patient, now - timedelta(hours=1), "39")
    db.commit()
    from app.careteam import access
    from app.careteam.models import Relation

    prescriber = access.care_team_of(db, patient.id, Relation.PRESCRIBER)[0]
    auth.logout()
    auth.login(prescriber.email)
    page = client.get(f"/patients/{patient.id}").text
    supply = page[page.index('id="supply-heading"'):]
    assert "39 troches on hand by the record" in supply
    assert "39 counted, 40 expected." in supply
    assert "Early refill on" in supply


@pytest.mark.parametrize(("days_ago", "ok"), [(-2, False), (-1, True), (0, True), (29, True),
                                              (30, True), (31, False)])
def test_fill_dates_up_to_30_days_back_are_accepted(db, world, days_ago, ok):
    patient, _ = world
    now = at(20, 21)  # evening in New York: the UTC date is already the next day
    filled_on = date(2026, 1, 20) - timedelta(days=days_ago)
    if ok:
        assert fill(db, patient, now, filled_on=filled_on, count=1).filled_on == filled_on
    else:
        with pytest.raises(Invalid) as caught:
            fill(db, patient, now, filled_on=filled_on, count=1)
        assert "filled_on" in caught.value.errors
        assert count_rows(db) == 0


def _dose_item(taken_at: datetime, written_at: datetime) -> dict:
    return sync_item("dose", {"taken_at": taken_at.isoformat(), "dose_mg": "100",
                              "route": "sublingual", "no_gate_reason": "Logged later."},
                     recorded_at=written_at)


def _count_item(counted_at: datetime, counted: str, written_at: datetime) -> dict:
    return sync_item("ledger_count", {"counted_at": counted_at.isoformat(), "count": counted},
                     recorded_at=written_at)


def _stored_count(db, result) -> LedgerEntry:
    db.expire_all()
    return db.get(LedgerEntry, uuid.UUID(result["id"]))


def _minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


@pytest.mark.parametrize("counted, expected, flags", [
    ("9", 9, []),  # the dose explains the shortfall the count was flagged for
    ("10", 9, ["discrepancy"]),  # a count that passed without the dose does not match with it
])
def test_a_dose_written_before_a_count_but_arriving_after_it_is_counted(
        db, client, patient, counted, expected, flags):
    """Two phones: the dose is written down at 10:00, the sitter counts at 10:01 and that
    count reaches the server first. Judged in arrival order, the count expected 10 troches;
    had the dose come first, 9. It is judged as if it had."""
    now = utcnow()
    dose_at, count_at = _minute(now - timedelta(minutes=30)), _minute(now - timedelta(minutes=29))
    yesterday = (now.astimezone(NY).date() - timedelta(days=1)).isoformat()
    sync_post(client, sync_item("ledger_fill", {"filled_on": yesterday, "count": 10,
                                                "strength_mg": "100"}))
    [sent_first] = sync_post(client, _count_item(count_at, counted, count_at)).json()["results"]
    assert sent_first["flags"] == ([] if counted == "10" else ["discrepancy"])
    [dose] = sync_post(client, _dose_item(dose_at, dose_at)).json()["results"]
    assert dose["status"] == "created"
    count = _stored_count(db, sent_first)
    assert count.expected_balance == expected and count.flags == flags
    summary = ledger.ledger_summary(db, patient, utcnow())
    assert [e.id for e in summary.discrepancies] == ([count.id] if flags else [])
    assert summary.balance == Decimal(counted)  # the count is still the new truth


def test_a_dose_written_after_the_count_arrived_leaves_its_flag(db, client, patient):
    """A shortfall shown to the patient, then a dose logged as taken before the count: the
    flag stands (and the record now beside it, in the exports), or a missing troche could be
    explained away after the fact."""
    now = utcnow()
    dose_at, count_at = _minute(now - timedelta(minutes=30)), _minute(now - timedelta(minutes=29))
    yesterday = (now.astimezone(NY).date() - timedelta(days=1)).isoformat()
    sync_post(client, sync_item("ledger_fill", {"filled_on": yesterday, "count": 10,
                                                "strength_mg": "100"}))
    [short] = sync_post(client, _count_item(count_at, "9", count_at)).json()["results"]
    logged = sync_item("dose", {"taken_at": dose_at.isoformat(), "dose_mg": "100",
                                "route": "sublingual", "no_gate_reason": "Forgot to log it.",
                                "already_taken": True}, recorded_at=utcnow())
    [dose] = sync_post(client, logged).json()["results"]
    assert dose["status"] == "created"
    count = _stored_count(db, short)
    assert count.expected_balance == 10 and count.flags == ["discrepancy"]
    assert ledger.expected_by_the_record_now(db, patient.id, [count])[count.id] == 9


def test_a_dose_sent_late_is_judged_by_the_count_whose_window_holds_it(db, client, patient):
    """A dose before the first of two counts changes that count's expectation only: the
    second starts from the first's counted number."""
    now = utcnow()
    dose_at = _minute(now - timedelta(minutes=50))
    first_at, second_at = dose_at + timedelta(minutes=5), dose_at + timedelta(minutes=10)
    yesterday = (now.astimezone(NY).date() - timedelta(days=1)).isoformat()
    sync_post(client, sync_item("ledger_fill", {"filled_on": yesterday, "count": 10,
                                                "strength_mg": "100"}))
    [first, second] = sync_post(client, _count_item(first_at, "9", first_at),
                                _count_item(second_at, "9", second_at)).json()["results"]
    assert first["flags"] == ["discrepancy"] and second["flags"] == []
    sync_post(client, _dose_item(dose_at, dose_at))
    assert _stored_count(db, first).flags == [] and _stored_count(db, first).expected_balance == 9
    assert _stored_count(db, second).flags == [] and _stored_count(db, second).expected_balance == 9


@pytest.mark.parametrize("written_late, lifted", [(False, True), (True, False)])
def test_a_dose_written_before_a_refill_but_arriving_after_it_weighs_on_its_early_flag(
        db, world, written_late, lifted):
    """The refill reached the server first and was judged early by one troche; the dose taken
    the day before, written down then on the other phone, arrives after it. Had it come first
    the refill was on time, so the flag goes. Written down only after the refill arrived, it
    leaves the flag (a supply note cannot be explained away by a dose logged afterwards)."""
    patient, version = world
    weekly = ledger.troches_per_week(version, patient.timezone, at(7))
    fill(db, patient, at(5), count=math.floor(weekly) + 1)  # lasts just over the 7-day window
    refill = fill(db, patient, at(7), count=20)
    assert refill.flags == ["early_refill"]
    taken = at(6, 9)
    written = at(7, 12, 30) if written_late else taken
    dose = service.record_dose(db, patient=patient, dose_id=uuid.uuid4(), recorded_at=written,
                               data={"taken_at": taken.isoformat(), "dose_mg": "100",
                                     "route": "sublingual", "no_gate_reason": "Logged later.",
                                     "already_taken": written_late}, now=at(7, 13))
    ledger.dose_sent_late(db, patient, dose)
    db.expire_all()
    assert db.get(LedgerEntry, refill.id).flags == ([] if lifted else ["early_refill"])


def test_a_dose_before_a_count_leaves_the_refills_after_that_count_alone(db, world):
    """Counted between the dose and the refill: the refill's supply starts from the counted
    number, which the late dose does not change."""
    patient, version = world
    weekly = ledger.troches_per_week(version, patient.timezone, at(7))
    fill(db, patient, at(5), count=10)
    count_check(db, patient, at(6, 10), str(math.floor(weekly) + 1))
    refill = fill(db, patient, at(7), count=20)
    assert refill.flags == ["early_refill"]
    taken = at(6, 9)
    dose = service.record_dose(db, patient=patient, dose_id=uuid.uuid4(), recorded_at=taken,
                               data={"taken_at": taken.isoformat(), "dose_mg": "100",
                                     "route": "sublingual", "no_gate_reason": "Logged later."},
                               now=at(7, 13))
    ledger.dose_sent_late(db, patient, dose)
    db.expire_all()
    assert db.get(LedgerEntry, refill.id).flags == ["early_refill"]


def test_a_fill_recorded_after_a_matching_count_that_day_adds_to_it(db, world):
    """Counted 5 at 9:34 PM, then a fill of 8 recorded at 9:40 PM, dated today: it was put at
    noon, before the count, and on hand stayed 5."""
    patient, _ = world
    fill(db, patient, at(5, 9), count=5)
    assert count_check(db, patient, at(6, 21, 34), "5").flags == []
    entry = fill(db, patient, at(6, 21, 40), count=8)
    assert entry.occurred_at == at(6, 21, 34)
    assert balance(db, patient, at(6, 22)) == 13
    [count] = [e for e in ledger.ledger_summary(db, patient, at(6, 22)).entries
               if e.kind == LedgerKind.COUNT]
    assert ledger.expected_by_the_record_now(db, patient.id, [count])[count.id] == 5


def test_a_fill_stays_before_a_count_that_did_not_match_without_it(db, world):
    """Picked up at 1 PM and counted at 3 PM with it (13, flagged), recorded at 4 PM: the fill
    goes in before that count (at noon, after the morning's count that matched)."""
    patient, _ = world
    fill(db, patient, at(5, 9), count=5)
    assert count_check(db, patient, at(6, 11), "5").flags == []
    assert count_check(db, patient, at(6, 15), "13").flags == ["discrepancy"]
    entry = fill(db, patient, at(6, 16), count=8)
    assert entry.occurred_at == at(6, 12)
    assert balance(db, patient, at(6, 17)) == 13
