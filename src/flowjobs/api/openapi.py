"""The OpenAPI document, corrected to what the API really answers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from flowjobs.api.problems import PROBLEM_JSON

_HEADERS_TOO_LARGE = {
    "description": "Request Header Fields Too Large",
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def install(app: FastAPI) -> None:
    """Request validation errors answer 400 problem bodies here, never FastAPI's
    422, so the generated 422 entries and their schemas are removed (a 422
    the API does answer, IDEMPOTENCY_KEY_REUSED, stays). Every operation may
    answer 431 (headers over FLOWJOBS_MAX_HEADER_BYTES): added to each."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    responses = operation.get("responses", {})
                    if "HTTPValidationError" in str(responses.get("422", "")):
                        del responses["422"]
                    responses.setdefault("431", _HEADERS_TOO_LARGE)
            schemas = document.get("components", {}).get("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
