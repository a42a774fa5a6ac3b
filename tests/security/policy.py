"""Who may use which route: the access policy, written down apart from the code that enforces it.

tests/security/test_route_matrix.py walks the app's route table and checks every route against
this table, as every subject below, with ids of the patient's own objects, another patient's and
ids that do not exist. A route the app has and this table does not fails the run: classify it
here. Nothing in this file asks app/careteam/access.py anything; it says what a person would
expect, and the test checks that the app agrees.

Outcomes
- signed out (and a cookie whose session expired or was ended by a password change): a page
  answers 303 to /login, the API 401;
- a role the route is not for (`roles`): 403;
- not entitled to that object, or an object of someone else's, or one that does not exist:
  `denied` (404 unless said otherwise), with the same body whichever of those it was;
- allowed: anything but 401, 403 or 404 (a minimal body may well get a 422: the point is that a
  refusal comes before validation).
"""

from dataclasses import dataclass, field

# --- who asks ---------------------------------------------------------------------------------

# Every subject state. "the patient" owns the "own" objects; the "other" objects belong to a
# further patient whom no subject here may see (their data is full of canaries).
SUBJECTS: dict[str, str] = {
    "anonymous": "nobody signed in",
    "expired_session": "the patient's cookie, for a session past its expiry",
    "pre_password_change": "the patient's cookie, for a session ended by a password change",
    "other_patient": "another patient",
    "cg_pending": "a caregiver invited by the patient, invite not accepted (no link)",
    "cg_revoked": "a caregiver whose link the patient removed",
    "cg_ended": "a caregiver whose link ended (ends_on in the past)",
    "cg_elsewhere": "a caregiver linked to another patient only",
    "cg_supervision": "the patient's caregiver, scope supervision",
    "cg_doses": "the patient's caregiver, scope doses",
    "cg_checkins": "the patient's caregiver, scope checkins",
    "other_prescriber": "a prescriber of another patient",
    "prescriber": "the patient's prescriber",
    "patient": "the patient",
}
ROLE = {
    "anonymous": None, "expired_session": None, "pre_password_change": None,
    "patient": "patient", "other_patient": "patient",
    **{name: "caregiver" for name in SUBJECTS if name.startswith("cg_")},
    "prescriber": "prescriber", "other_prescriber": "prescriber",
}
SIGNED_OUT = frozenset(name for name, role in ROLE.items() if role is None)

# Named groups, as a clinician would say them.
OWNER = frozenset({"patient"})
LINKED_CAREGIVERS = frozenset({"cg_supervision", "cg_doses", "cg_checkins"})
DOSE_READERS = OWNER | {"cg_doses", "cg_checkins", "prescriber"}  # dose history and supply
CHECKIN_READERS = OWNER | {"cg_checkins", "prescriber"}  # moods, scores, trends
TREATING = frozenset({"prescriber"})  # the prescriber's pages and actions about a patient
ALERT_CONTACTS = LINKED_CAREGIVERS | TREATING

# --- the kinds of object an id names ----------------------------------------------------------

# Path parameters (and the query, form and JSON fields named below as "<kind>") each name one
# kind; tests/security/world.py has a resolver per kind that makes the patient's object and the
# other patient's. A kind listed in BEARER has no "other": holding the token is the permission.
KINDS = ("patient_id", "dose_id", "event_id", "alert_id", "link_id", "invite_id", "token",
         "reset_token", "response_id", "occurrence_id", "subscription_id", "endpoint",
         "session_id", "passkey_id")
BEARER = frozenset({"token", "reset_token"})


@dataclass(frozen=True)
class Rule:
    public: bool = False  # no sign-in needed; everyone gets the same
    roles: frozenset[str] | None = None  # the role guard (403 for other roles); None: any role
    who: frozenset[str] | None = None  # who may use the own objects; None: all who pass
    denied: int | None = 404  # the answer for an object that is not theirs (None: not refused)
    fixed: dict[str, str] = field(default_factory=dict)  # path parameters that are not ids
    query: dict[str, str] = field(default_factory=dict)  # query values ("<kind>" for an id)
    form: dict[str, str] = field(default_factory=dict)  # extra form fields of a minimal post
    json: dict | None = None  # the minimal JSON body (an /api/ write, or any JSON write)
    api: bool | None = None  # answers JSON (401 when signed out); None: paths under /api/
    names: dict[str, str] = field(default_factory=dict)  # path parameter → kind, if not its name
    # What an allowed subject may get for the minimal body beyond 2xx/3xx/422 (a wrong password
    # is a 401 on a re-authentication form; "you have no passkey" a 404 on its options).
    also_ok: tuple[int, ...] = ()


def public(**kw) -> Rule:
    return Rule(public=True, **kw)


def signed_in(who=None, **kw) -> Rule:
    return Rule(who=frozenset(who) if who is not None else None, **kw)


def role(*roles: str, who=None, **kw) -> Rule:
    return Rule(roles=frozenset(roles), who=frozenset(who) if who is not None else None, **kw)


def about_patient(who, **kw) -> Rule:
    """A page or action about one patient: for `who` only; for anyone else the same 404 as for a
    patient who does not exist (not a 403: a stranger must not learn that the patient exists)."""
    return Rule(who=frozenset(who), **kw)


PATIENT_Q = {"patient_id": "<patient_id>"}

POLICY: dict[str, Rule] = {
    # --- public: the same for everyone ---------------------------------------------------------
    "GET /openapi.json": public(),
    "HEAD /openapi.json": public(),
    "GET /static/{path}": public(fixed={"path": "app.css"}),
    "HEAD /static/{path}": public(fixed={"path": "app.css"}),
    "GET /manifest.webmanifest": public(),
    "GET /sw.js": public(),
    "GET /offline": public(),
    "GET /": public(),  # a redirect: home, or the sign-in page
    "GET /healthz": public(),
    "GET /livez": public(),
    "GET /help": public(),
    "GET /login": public(),
    "POST /login": public(),
    "POST /logout": public(),
    "GET /invite/{token}": public(),
    "POST /invite/{token}": public(),
    "GET /api/v1/push/vapid-public-key": public(),
    "GET /checkins/settings": public(),  # only a redirect to /checkins (a reload after a form)
    "GET /account/deleted": public(),  # a goodbye page: nothing of anyone's
    "GET /forgot": public(),
    "POST /forgot": public(),  # the same answer whether or not the address has an account
    "GET /reset/{token}": public(names={"token": "reset_token"}),
    "POST /reset/{token}": public(names={"token": "reset_token"}),
    # Passkey sign-in: for the signed out (a signed-in browser is told so, 409).
    "POST /login/passkey/options": public(json={}, api=True),
    "POST /login/passkey": public(json={}, api=True),
    # --- anyone signed in, for themself --------------------------------------------------------
    "GET /more": signed_in(),
    "GET /account": signed_in(),
    "POST /account/timezone": signed_in(),
    "POST /account/language": signed_in(),
    "POST /account/password": signed_in(),
    "GET /account/reminders": signed_in(),
    "POST /account/reminders": signed_in(),
    "GET /api/v1/me": signed_in(),
    "GET /reauth": signed_in(),
    "POST /reauth": signed_in(also_ok=(401,)),
    "POST /reauth/passkey/options": signed_in(json={}, api=True, also_ok=(404,)),
    "POST /reauth/passkey": signed_in(json={}, api=True, also_ok=(404,)),
    "GET /unlock": signed_in(),
    "POST /unlock": signed_in(),
    "GET /account/devices": signed_in(),
    "POST /account/devices/others/end": signed_in(),
    "POST /account/devices/{session_id}/end": signed_in(OWNER),
    "GET /account/passkeys": signed_in(),
    "POST /account/passkeys/options": signed_in(json={}, api=True),
    "POST /account/passkeys": signed_in(json={}, api=True),
    "POST /account/passkeys/{passkey_id}/remove": signed_in(OWNER),
    # The app lock: a prescriber's short session is their lock.
    "GET /account/app-lock": role("patient", "caregiver"),
    "POST /account/app-lock": role("patient", "caregiver"),
    "POST /account/app-lock/off": role("patient", "caregiver"),
    "POST /api/v1/push/subscriptions": signed_in(json={}),
    # Forgetting an endpoint is idempotent (204 whoever's it is) and only ever removes one's own.
    "DELETE /api/v1/push/subscriptions": signed_in(json={"endpoint": "<endpoint>"},
                                                   denied=None),
    "POST /api/v1/push/test": signed_in(OWNER, json={"endpoint": "<endpoint>"}),
    "POST /api/v1/push/snooze": signed_in(OWNER, json={"id": "<occurrence_id>"}),
    # Someone else's reminder link lands on one's own home, as an unknown one does.
    "GET /reminders/{occurrence_id}/open": signed_in(OWNER, denied=303),
    "POST /account/reminders/devices/{subscription_id}/test": signed_in(OWNER),
    "POST /account/reminders/devices/{subscription_id}/remove": signed_in(OWNER),
    # --- the patient's own pages (403 for other roles) -----------------------------------------
    "GET /today": role("patient"),
    "POST /today/gate": role("patient"),
    "POST /today/dose": role("patient"),
    "GET /api/v1/today": role("patient"),
    "GET /doses": role("patient"),
    "POST /doses/{dose_id}/entered-in-error": role("patient", who=OWNER),
    "POST /doses/{dose_id}/correct": role("patient", who=OWNER),
    "GET /supply": role("patient"),
    "POST /supply/fill": role("patient"),
    "POST /supply/count": role("patient"),
    "GET /care-team": role("patient"),
    "POST /care-team/caregiver-alerts": role("patient"),
    "POST /care-team/share-alerts": role("patient"),
    "POST /care-team/invite": role("patient"),
    "POST /care-team/caregivers/{link_id}": role("patient", who=OWNER),
    "POST /care-team/caregivers/{link_id}/remove": role("patient", who=OWNER),
    "POST /care-team/invites/{invite_id}/cancel": role("patient", who=OWNER),
    "GET /checkins": role("patient"),
    "POST /checkins/settings": role("patient"),
    "GET /checkins/{slot_key}": role("patient", who=OWNER, fixed={"slot_key": "pre"},
                                     query={"dose": "<dose_id>"}),
    "POST /checkins/{slot_key}": role("patient", who=OWNER, fixed={"slot_key": "pre"},
                                      form={"dose_id": "<dose_id>"}),
    "GET /questionnaires/{key}": role("patient", fixed={"key": "phq9"}),
    "POST /questionnaires/{key}": role("patient", fixed={"key": "phq9"}),
    "GET /questionnaires/result/{response_id}": role("patient", who=OWNER),
    "GET /trends": role("patient"),
    "GET /account/access-log": role("patient"),  # who looked at my record
    "GET /account/data": role("patient"),
    "GET /account/data/trochelog-my-data.json": role("patient"),
    "GET /account/data/trochelog-my-data.fhir.json": role("patient"),
    "POST /account/delete": role("patient"),  # (a minimal post lacks the password: refused)
    # --- caregivers ------------------------------------------------------------------------------
    "GET /supporting": role("caregiver"),
    # --- prescribers -----------------------------------------------------------------------------
    "GET /patients": role("prescriber"),
    "POST /patients": role("prescriber"),  # the search form (posted: no name in an address)
    "GET /patients/new": role("prescriber"),
    "POST /patients/new": role("prescriber"),
    "GET /patients/export": role("prescriber"),
    "GET /api/v1/export": role("prescriber"),
    "POST /account/clinic-phone": role("prescriber"),
    "GET /audit": role("prescriber"),  # the log for their own patients
    # --- the care team -------------------------------------------------------------------------
    "GET /alerts": role("caregiver", "prescriber"),
    "POST /alerts/{alert_id}/acknowledge": role("caregiver", "prescriber", who=ALERT_CONTACTS),
    "GET /api/v1/patients": role("caregiver", "prescriber"),
    # A patient writes their own record, a sitter the sitter's items for their patient.
    "POST /api/v1/sync": role("patient", "caregiver", json={"items": []}),
    # --- about one patient: who may, and a 404 for everyone else -------------------------------
    "GET /patients/{patient_id}": about_patient(TREATING),
    "GET /patients/{patient_id}/summary": about_patient(TREATING),
    "GET /patients/{patient_id}/audit": about_patient(TREATING),
    "GET /patients/{patient_id}/export": about_patient(TREATING),
    "GET /api/v1/patients/{patient_id}/export": about_patient(TREATING),
    "POST /patients/{patient_id}/invite": about_patient(TREATING),
    "POST /patients/{patient_id}/flags/review": about_patient(TREATING),
    "POST /patients/{patient_id}/safety-events/{event_id}/review": about_patient(TREATING),
    "POST /patients/{patient_id}/caregiver-alerts": about_patient(TREATING),
    "GET /patients/{patient_id}/protocol": about_patient(TREATING),
    "POST /patients/{patient_id}/protocol": about_patient(TREATING),
    "POST /patients/{patient_id}/phase": about_patient(TREATING),
    "POST /patients/{patient_id}/questionnaires": about_patient(TREATING),
    "GET /patients/{patient_id}/trends": about_patient(CHECKIN_READERS),
    "GET /supporting/{patient_id}": about_patient(LINKED_CAREGIVERS),
    "POST /supporting/{patient_id}/alerts": about_patient(LINKED_CAREGIVERS),
    "GET /supporting/{patient_id}/session": about_patient(LINKED_CAREGIVERS),
    "GET /supporting/{patient_id}/session/{slot_key}": about_patient(
        LINKED_CAREGIVERS, fixed={"slot_key": "observe"}),
    "POST /supporting/{patient_id}/session/{slot_key}": about_patient(
        LINKED_CAREGIVERS, fixed={"slot_key": "observe"}),
    "GET /api/v1/doses": about_patient(DOSE_READERS, query=PATIENT_Q),
    "GET /api/v1/checkins": about_patient(CHECKIN_READERS, query=PATIENT_Q),
    "GET /api/v1/questionnaires": about_patient(CHECKIN_READERS, query=PATIENT_Q),
}


def suggestion(key: str) -> str:
    """What to add for a route the table does not know, in the table's own words."""
    method, path = key.split(" ", 1)
    if path.startswith("/patients/{patient_id}") or "{patient_id}" in path:
        hint = "about_patient(TREATING)  # or LINKED_CAREGIVERS, CHECKIN_READERS …"
    elif "{" in path:
        hint = 'signed_in(OWNER)  # or role("patient", who=OWNER); an id kind from KINDS'
    else:
        hint = 'signed_in()  # or role("patient"), role("prescriber"), public()'
    return f'    "{method} {path}": {hint},'
