"""The check-in sync kinds: session and daily check-ins, and questionnaires."""

from typing import Any

from app.checkins import service
from app.sync.context import Handler, Write


def _checkin(w: Write) -> dict[str, Any]:
    checkin = service.record_checkin(w.session, patient=w.patient, author=w.author,
                                     checkin_id=w.item_id, recorded_at=w.recorded_at,
                                     data=w.data, now=w.now)
    return {"flags": checkin.flags}


def _questionnaire(w: Write) -> dict[str, Any]:
    response = service.record_questionnaire(w.session, patient=w.patient, response_id=w.item_id,
                                            completed_at=w.recorded_at, data=w.data, now=w.now)
    result: dict[str, Any] = {"score": response.score, "band": response.band,
                              "follow_up": response.follow_up, "version": response.version}
    if response.instrument == "cssrs":
        result["risk"] = response.risk
        result["crisis"] = response.risk == "high"
    return result


HANDLERS: dict[str, Handler] = {
    "checkin": _checkin,
    "questionnaire": _questionnaire,
}
