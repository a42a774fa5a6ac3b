"""/openapi.json as clients will meet the API: JSON routes only, errors as they really are.

Every error the app answers under /api/ is `{"detail": "<readable text>"}` (app/main.py's
handlers), never FastAPI's list-shaped HTTPValidationError. The schema says so: each /api
operation documents its error codes with one ErrorResponse model, 401 where sign-in is
required, 403 where a role or the CSRF token is checked, 413 where there is a body. Pages (HTML
for browsers) are left out: their forms answer with pages, not JSON.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel, Field

from app.deps import current_user

UNSAFE = {"post", "put", "patch", "delete"}
REF = "#/components/schemas/ErrorResponse"


class ErrorResponse(BaseModel):
    detail: str = Field(description="What went wrong, in words a person can read.")


DESCRIPTIONS = {
    400: "The request could not be read.",
    401: "Not signed in (or the session ended).",
    403: "Not allowed for this account, or a missing or wrong X-CSRF-Token.",
    404: "No such object, or not one this account may see.",
    409: "The request conflicts with what is stored.",
    413: "The body is over the size limit.",
    422: "The request is not valid; `detail` says which field and why.",
    429: "Too many attempts; wait as Retry-After says.",
    500: "Something went wrong on the server; nothing was saved.",
}


def _calls(dependant: Dependant) -> set[Any]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def api_routes(app: FastAPI) -> list[RouteContext]:
    """The JSON API's routes (included routers flattened), as FastAPI's own schema sees them."""
    return [
        context
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and context.include_in_schema
        and context.path_format.startswith("/api/")
    ]


def requires_sign_in(route: RouteContext) -> bool:
    """The route depends (directly or through a role guard) on a signed-in user."""
    return current_user in _calls(route.dependant)


def _error_codes(route: RouteContext, method: str, has_body: bool) -> list[int]:
    codes = [400, 404, 409, 422, 429, 500]
    signed_in = requires_sign_in(route)
    if signed_in:
        codes.append(401)
    if signed_in or method in UNSAFE:
        codes.append(403)
    if has_body or method in UNSAFE:
        codes.append(413)
    return sorted(codes)


def build_schema(app: FastAPI) -> dict[str, Any]:
    routes = api_routes(app)
    schema = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=routes,
    )
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorResponse"] = ErrorResponse.model_json_schema()
    by_path = {(r.path_format, m.lower()): r for r in routes for m in r.methods}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            route = by_path[(path, method)]
            responses = operation.setdefault("responses", {})
            declared = [int(c) for c in responses if c.isdigit() and int(c) >= 400]
            for code in sorted({*_error_codes(route, method, "requestBody" in operation),
                                *declared}):
                existing = responses.get(str(code), {})
                responses[str(code)] = {
                    # A route's own words for a code (push, clinic) are kept.
                    "description": (
                        existing.get("description")
                        if existing.get("description") not in (None, "Validation Error")
                        else DESCRIPTIONS.get(code, "An error; `detail` says what.")
                    ),
                    "content": {"application/json": {"schema": {"$ref": REF}}},
                }
    # FastAPI's list-shaped error models are no longer referenced: drop them.
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_schema(app)
        return app.openapi_schema

    app.openapi = openapi
