"""/openapi.json tells generated clients the truth: errors are {"detail": "<string>"}."""

import pytest

from app.main import app
from app.web.openapi import api_routes, requires_sign_in

ERROR = {"$ref": "#/components/schemas/ErrorResponse"}


@pytest.fixture
def schema(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_the_error_model_is_a_string_detail(schema):
    model = schema["components"]["schemas"]["ErrorResponse"]
    assert model["properties"]["detail"]["type"] == "string"
    assert model["required"] == ["detail"]
    # FastAPI's list-shaped validation error is not what the app answers: gone.
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_only_the_json_api_is_described(schema):
    assert schema["paths"]
    assert all(path.startswith("/api/") for path in schema["paths"])


def test_every_operation_documents_its_errors_as_detail_strings(schema):
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        for code in ("400", "404", "422", "500"):
            assert responses[code]["content"]["application/json"]["schema"] == ERROR, (
                f"{method} {path} {code}")
        if method in ("post", "put", "patch", "delete"):
            for code in ("403", "413"):
                assert responses[code]["content"]["application/json"]["schema"] == ERROR


def test_every_operation_that_needs_sign_in_lists_401(schema):
    needing = {(r.path_format, m.lower()) for r in api_routes(app) for m in r.methods
               if requires_sign_in(r)}
    assert ("/api/v1/doses", "get") in needing and ("/api/v1/sync", "post") in needing
    assert ("/api/v1/push/vapid-public-key", "get") not in needing
    for path, method, operation in operations(schema):
        if (path, method) in needing:
            assert operation["responses"]["401"]["content"]["application/json"]["schema"] \
                == ERROR, f"{method} {path}"
        else:
            assert "401" not in operation["responses"], f"{method} {path}"


@pytest.mark.parametrize(("path", "status"), [
    ("/api/v1/doses", 401),
    ("/api/v1/no-such-thing", 404),
])
def test_real_errors_have_the_documented_shape(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str)


def test_a_real_validation_error_has_the_documented_shape(client, login_as):
    login_as("patient")
    response = client.get("/api/v1/doses?start=yesterday")
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"detail"} and body["detail"].startswith("start")
