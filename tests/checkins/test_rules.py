""""Ready to be alone" as a pure rule: from the end of the observation period, with the latest
sedation check normal and the latest blood pressure below the protocol's hold level. Every
boundary is checked on both sides."""

from datetime import UTC, datetime, timedelta

import pytest

from app.checkins.rules import Reading, ReadyAloneCode, ready_alone_refusals

TAKEN = datetime(2026, 1, 12, 15, 5, tzinfo=UTC)
END = TAKEN + timedelta(minutes=120)
GOOD = {"sedation": 0, "systolic": 128, "diastolic": 82, "ready_alone": True}


def refusals(values=None, *, at=END, earlier=(), minutes=120, hold=(160, 100)):
    return ready_alone_refusals(
        taken_at=TAKEN, at=at, observation_minutes=minutes, hold_systolic=hold[0],
        hold_diastolic=hold[1], values=GOOD if values is None else values, earlier=earlier)


def codes(result) -> list[str]:
    return [r.code for r in result]


def test_all_in_order_at_the_end_of_observation_is_accepted():
    assert refusals() == []


# --- time -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "ok"),
    [
        (timedelta(minutes=-1), False),
        (timedelta(seconds=-1), False),
        (timedelta(0), True),  # exactly the end of observation
        (timedelta(seconds=1), True),
        (timedelta(hours=5), True),
    ],
)
def test_time_boundary(offset, ok):
    result = refusals(at=END + offset)
    assert codes(result) == ([] if ok else [ReadyAloneCode.TOO_SOON])


def test_too_soon_says_from_when():
    (refusal,) = refusals(at=TAKEN + timedelta(minutes=45))
    assert refusal.code == ReadyAloneCode.TOO_SOON
    assert refusal.params == {"allowed_from": END, "observation_minutes": 120}


@pytest.mark.parametrize("minutes", [60, 90, 180])
def test_the_observation_period_is_the_protocols(minutes):
    end = TAKEN + timedelta(minutes=minutes)
    assert refusals(at=end, minutes=minutes) == []
    (refusal,) = refusals(at=end - timedelta(seconds=1), minutes=minutes)
    assert refusal.params["allowed_from"] == end


# --- sedation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("sedation", "ok"), [(0, True), (1, False), (2, False), (3, False)])
def test_sedation_must_be_normal(sedation, ok):
    result = refusals({**GOOD, "sedation": sedation})
    if ok:
        assert result == []
    else:
        (refusal,) = result
        assert refusal.code == ReadyAloneCode.SEDATED
        assert refusal.params == {"sedation": sedation}


def test_no_sedation_reading_at_all_is_refused():
    values = {k: v for k, v in GOOD.items() if k != "sedation"}
    assert codes(refusals(values)) == [ReadyAloneCode.NO_SEDATION]


# --- blood pressure ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("systolic", "diastolic", "ok"),
    [
        (159, 99, True),  # just below both
        (160, 99, False),  # systolic at the hold level
        (159, 100, False),  # diastolic at the hold level
        (161, 80, False),
        (120, 101, False),
        (185, 125, False),  # a crisis reading is above any hold level
        (90, 60, True),
    ],
)
def test_blood_pressure_must_be_below_the_hold_level(systolic, diastolic, ok):
    result = refusals({**GOOD, "systolic": systolic, "diastolic": diastolic})
    if ok:
        assert result == []
    else:
        (refusal,) = result
        assert refusal.code == ReadyAloneCode.BP_AT_HOLD
        assert refusal.params == {"systolic": systolic, "diastolic": diastolic,
                                  "hold_systolic": 160, "hold_diastolic": 100}


def test_the_hold_level_is_the_protocols():
    assert refusals({**GOOD, "systolic": 145, "diastolic": 85}, hold=(150, 90)) == []
    assert codes(refusals({**GOOD, "systolic": 150, "diastolic": 85}, hold=(150, 90))) == [
        ReadyAloneCode.BP_AT_HOLD]


@pytest.mark.parametrize("values", [
    {"sedation": 0},
    {"sedation": 0, "systolic": 128},  # half a reading is no reading
    {"sedation": 0, "diastolic": 82},
])
def test_no_blood_pressure_reading_at_all_is_refused(values):
    assert codes(refusals(values)) == [ReadyAloneCode.NO_BP]


# --- earlier readings in the same session -----------------------------------------------------


def reading(minutes: int, **values) -> Reading:
    return Reading(at=TAKEN + timedelta(minutes=minutes), values=values)


def test_without_readings_in_this_checkin_the_latest_earlier_ones_count():
    earlier = [reading(40, systolic=150, diastolic=95, sedation=1),
               reading(90, systolic=132, diastolic=84),
               reading(100, sedation=0)]
    assert refusals({"ready_alone": True}, earlier=earlier) == []


def test_the_latest_earlier_reading_wins_even_if_an_older_one_was_fine():
    earlier = [reading(40, systolic=128, diastolic=80, sedation=0),
               reading(100, systolic=162, diastolic=90, sedation=2)]
    result = refusals({"ready_alone": True}, earlier=earlier)
    assert codes(result) == [ReadyAloneCode.SEDATED, ReadyAloneCode.BP_AT_HOLD]
    assert result[0].params == {"sedation": 2}
    assert result[1].params["systolic"] == 162


def test_this_checkins_own_readings_override_earlier_ones():
    earlier = [reading(100, systolic=170, diastolic=100, sedation=2)]
    assert refusals(GOOD, earlier=earlier) == []


def test_readings_before_the_dose_or_after_this_checkin_do_not_count():
    earlier = [reading(-5, systolic=124, diastolic=80, sedation=0),  # the pre-dose check
               reading(125, systolic=124, diastolic=80, sedation=0)]  # entered later, after
    assert codes(refusals({"ready_alone": True}, earlier=earlier)) == [
        ReadyAloneCode.NO_SEDATION, ReadyAloneCode.NO_BP]


def test_a_reading_at_the_same_moment_counts():
    earlier = [reading(120, systolic=124, diastolic=80, sedation=0)]
    assert refusals({"ready_alone": True}, earlier=earlier) == []


def test_every_failing_condition_is_named_in_a_fixed_order():
    result = refusals({"ready_alone": True}, at=TAKEN + timedelta(minutes=30))
    assert codes(result) == [ReadyAloneCode.TOO_SOON, ReadyAloneCode.NO_SEDATION,
                             ReadyAloneCode.NO_BP]
