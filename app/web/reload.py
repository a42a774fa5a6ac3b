"""A reload after a refused form: the address is the form's POST URL, and a GET there would be
405. Each form's POST URL is mapped to the page the form lives on, so a GET (a reload, a
pull-to-refresh, a shared address) is sent back to that page with a 303."""

import re
from urllib.parse import quote

# POST path (as routed) -> the page its form is on; {names} are carried over from the path.
FORM_PAGES: dict[str, str] = {
    "/logout": "/",
    "/account/timezone": "/account",
    "/account/language": "/account",
    "/account/clinic-phone": "/account",
    "/account/password": "/account",
    "/account/app-lock/off": "/account/app-lock",
    "/account/delete": "/account/data",
    "/account/devices/others/end": "/account/devices",
    "/account/devices/{session_id}/end": "/account/devices",
    "/account/passkeys/{passkey_id}/remove": "/account/passkeys",
    # The passkey ceremonies post JSON from passkeys.js; a GET there is a pasted address.
    "/account/passkeys/options": "/account/passkeys",
    "/login/passkey": "/login",
    "/login/passkey/options": "/login",
    "/reauth/passkey": "/reauth",
    "/reauth/passkey/options": "/reauth",
    "/account/reminders/devices/{subscription_id}/test": "/account/reminders",
    "/account/reminders/devices/{subscription_id}/remove": "/account/reminders",
    "/today/gate": "/today",
    "/today/dose": "/today",
    "/doses/{dose_id}/entered-in-error": "/doses",
    "/doses/{dose_id}/correct": "/doses",
    "/supply/fill": "/supply",
    "/supply/count": "/supply",
    "/checkins/settings": "/checkins",
    "/alerts/{alert_id}/acknowledge": "/alerts",
    "/supporting/{patient_id}/alerts": "/supporting",
    "/care-team/caregivers/{link_id}": "/care-team",
    "/care-team/caregivers/{link_id}/remove": "/care-team",
    "/care-team/invites/{invite_id}/cancel": "/care-team",
    "/care-team/invite": "/care-team",
    "/care-team/caregiver-alerts": "/care-team",
    "/care-team/share-alerts": "/care-team",
    "/patients/{patient_id}/invite": "/patients/{patient_id}",
    "/patients/{patient_id}/flags/review": "/patients",
    "/patients/{patient_id}/safety-events/{event_id}/review": "/patients/{patient_id}",
    "/patients/{patient_id}/caregiver-alerts": "/patients/{patient_id}",
    "/patients/{patient_id}/phase": "/patients/{patient_id}",
    "/patients/{patient_id}/questionnaires": "/patients/{patient_id}",
}


def _compile(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(
        f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part) for i, part in enumerate(parts)
    )
    return re.compile(f"^{pattern}/?$")


_COMPILED = [(_compile(post), page) for post, page in FORM_PAGES.items()]


def form_page_for(path: str) -> str | None:
    """The page whose form posts to `path`, or None when no form posts there."""
    for pattern, page in _COMPILED:
        match = pattern.match(path)
        if match:
            return page.format(**{k: quote(v, safe="") for k, v in match.groupdict().items()})
    return None
