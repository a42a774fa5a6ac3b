"""Access, proven: every route of the app × every subject state × own, other and missing ids.

The expectations come from tests/security/policy.py (a table kept apart from the code); the
world (subjects, objects, canaries) from tests/security/world.py. One test per route builds the
world once and loops over every subject and id variant, so a run builds as many worlds as
there are routes. Each case is a real request through the TestClient with the subject's real
session cookie and, for writes, their real CSRF token and a minimal body that smuggles the other
patient's id as `patient_id`.
"""

import re

import pytest

from app.main import app
from tests import figures
from tests.security import world as worlds
from tests.security.policy import BEARER, KINDS, POLICY, ROLE, SIGNED_OUT, SUBJECTS, suggestion

ROUTES = worlds.app_routes(app)
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")
PLACEHOLDER = re.compile(r"<(\w+)>")


def _missing_message(keys: list[str]) -> str:
    lines = "\n".join(suggestion(key) for key in keys)
    return (f"{len(keys)} route(s) of the app are not in the access policy. Classify each in "
            f"POLICY in tests/security/policy.py (who may use it, see the module docstring), "
            f"for example:\n{lines}")


def test_every_route_is_classified():
    missing = sorted(set(ROUTES) - set(POLICY))
    stale = sorted(set(POLICY) - set(ROUTES))
    figures.add("access matrix routes", len(set(ROUTES) & set(POLICY)))
    assert not missing, _missing_message(missing)
    assert not stale, (f"POLICY in tests/security/policy.py names routes the app no longer has: "
                       f"{stale}; remove them")


# --- one route's cases ------------------------------------------------------------------------


def _kinds(template: str, rule) -> list[str]:
    """The id kinds a request to this route carries (path, query, form and JSON)."""
    found = [rule.names.get(name, name) for name in PARAM.findall(template)
             if name not in rule.fixed]
    for value in [*rule.query.values(), *rule.form.values(), *_strings(rule.json)]:
        found += PLACEHOLDER.findall(value)
    return list(dict.fromkeys(found))


def _strings(body) -> list[str]:
    if isinstance(body, dict):
        return [s for v in body.values() for s in _strings(v)]
    if isinstance(body, list):
        return [s for v in body for s in _strings(v)]
    return [body] if isinstance(body, str) else []


def _variants(kinds: list[str]) -> list[str]:
    """Missing ids first, the own objects last (an allowed write may change the world)."""
    if not kinds:
        return ["own"]
    foreign = [k for k in kinds if k not in BEARER]
    variants = ["nonexistent"]
    if foreign:
        variants.append("other")
    if len(foreign) > 1:  # the own patient with another's object in it, and so on
        variants += [f"mixed:{k}" for k in foreign]
    return [*variants, "own"]


def _value(world, kind: str, variant: str) -> str:
    if variant.startswith("mixed:"):
        return world.value(kind, "other" if kind == variant[6:] else "own")
    return world.value(kind, variant)


def _fill(value, ids: dict[str, str]):
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: ids[m.group(1)], value)
    return value


def expected(rule, subject: str, variant: str) -> str:
    """"allowed", "login", "forbidden" or "denied", from the policy alone."""
    if rule.public:
        return "allowed" if variant == "own" else "denied"
    if subject in SIGNED_OUT:
        return "login"
    if rule.roles is not None and ROLE[subject] not in rule.roles:
        return "forbidden"
    if variant == "own":
        return "allowed" if rule.who is None or subject in rule.who else "denied"
    return "allowed" if rule.denied is None else "denied"


def _request(client, world, subject, method: str, template: str, rule, ids: dict[str, str]):
    path = PARAM.sub(lambda m: rule.fixed.get(m.group(1)) or ids[rule.names.get(m.group(1),
                                                                               m.group(1))],
                     template)
    query = _fill(rule.query, ids)
    worlds.use(client, subject)
    headers = {}
    if method not in UNSAFE:
        return client.request(method, path, params=query, headers=headers)
    headers["X-CSRF-Token"] = subject.csrf
    smuggled = str(world.other_patient.id)
    if rule.json is not None or path.startswith("/api/"):
        # Strict bodies (the sync envelope) refuse the extra field with a 422: for those allowed.
        # Anyone else must be refused before the body is even validated.
        body = {**_fill(rule.json if rule.json is not None else {}, ids), "patient_id": smuggled}
        return client.request(method, path, params=query, json=body, headers=headers)
    data = {"csrf_token": subject.csrf, "patient_id": smuggled, **_fill(rule.form, ids)}
    return client.request(method, path, params=query, data=data, headers=headers)


def _normalised(response, ids: list[str]) -> tuple:
    """Status, redirect and body, with the ids (the request's, and any of the world's) and the
    request id taken out: what is left must not depend on whose the object was."""
    text, location = response.text, response.headers.get("location", "")
    for value in ids:
        text, location = text.replace(value, "<id>"), location.replace(value, "<id>")
    rid = response.headers.get("x-request-id")
    if rid:
        text = text.replace(rid, "<request-id>")
    return response.status_code, location, re.sub(r"[0-9a-f]{64}", "<token>", text)


def _is_api(rule, path: str) -> bool:
    return rule.api if rule.api is not None else path.startswith("/api/")


def _outcome_problem(kind: str, response, rule, path: str) -> str | None:
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    location = response.headers.get("location", "")
    if kind == "allowed" and rule.public:
        # A public route may well answer a sign-in form with 401 (wrong credentials) or send
        # someone to sign in; never a refusal of the route itself.
        if status in (403, 404):
            return f"refused ({status}) but the route is public"
    elif kind == "allowed":
        refused = {401, 403, 404} - set(rule.also_ok)
        if status in refused or location.startswith("/login"):
            return f"refused ({status} {location}) but the policy allows it"
    elif kind == "login":
        if _is_api(rule, path):
            return None if status == 401 else f"expected 401, got {status}"
        if status != 303 or not location.startswith("/login"):
            return f"expected 303 to /login, got {status} {location}"
    elif kind == "forbidden":
        return None if status == 403 else f"expected 403 (wrong role), got {status}"
    elif status != rule.denied:
        return f"expected {rule.denied} (not theirs), got {status} {location}"
    return None


def _leaks(world, response, sent: dict[str, str]) -> list[str]:
    seen = response.text + response.headers.get("location", "")
    # The other patient's id in an answer to a request that carried it is the requester's own
    # URL echoed (the sign-in redirect's next=); their names, notes and emails never are.
    echoed = set(sent.values())
    return [c for c in world.canaries if c in seen and c not in echoed]


@pytest.mark.parametrize("key", sorted(ROUTES))
def test_route_access(db, client, key):
    rule = POLICY.get(key)
    if rule is None:
        pytest.fail(_missing_message([key]))
    method, template = key.split(" ", 1)
    kinds = _kinds(template, rule)
    unknown = [k for k in kinds if k not in KINDS]
    assert not unknown, (f"{key}: no resolver for the id kind(s) {unknown}: add them to KINDS in "
                         f"tests/security/policy.py and make the objects in world._plant, or "
                         f"give fixed values in the rule")
    world = worlds.build(db, client)
    known = [*world.own.ids.values(), *world.other.ids.values()]
    before = worlds.watched_rows(db, world.other.row_ids)

    problems, leaks, cases = [], 0, 0
    for name in SUBJECTS:
        subject = world.subjects[name]
        missing_answer = None
        for variant in _variants(kinds):
            want = expected(rule, name, variant)
            if want in ("login", "forbidden") and variant not in ("own", "other"):
                continue  # refused before any id is looked at: own and other show that
            ids = {kind: _value(world, kind, variant) for kind in kinds}
            response = _request(client, world, subject, method, template, rule, ids)
            cases += 1
            where = f"{name} / {variant}"
            problem = _outcome_problem(want, response, rule, template)
            if problem:
                problems.append(f"{where}: {problem}")
            hits = _leaks(world, response, ids)
            if hits:
                leaks += len(hits)
                problems.append(f"{where}: the other patient's data in the answer: {hits}")
            shape = _normalised(response, [*ids.values(), *known])
            if variant == "nonexistent":
                missing_answer = shape
            elif want == "denied" and missing_answer is not None and shape != missing_answer:
                problems.append(f"{where}: the refusal differs from the answer for an id that "
                                f"does not exist, so it tells that the object exists")

    after = worlds.watched_rows(db, world.other.row_ids)
    for table in sorted(set(before) | set(after)):
        if before.get(table) != after.get(table):
            problems.append(f"rows of (or pointing at) the other patient changed in {table}")
    figures.add("access matrix cases", cases)
    figures.add("access matrix leaks", leaks)
    assert not problems, f"{key}:\n  " + "\n  ".join(problems)


def test_the_policy_is_not_computed_from_the_app():
    """The table is the independent witness: it must not ask the access module."""
    import tests.security.policy as policy

    with open(policy.__file__) as source:
        imports = [line for line in source if line.startswith(("import ", "from "))]
    assert not [line for line in imports if "app" in line.split()[1]], imports
