"""The OpenAPI document names its schemas as the reference does (no I/O: the
app is built but never started)."""

from __future__ import annotations

from flowjobs.api.app import create_app
from flowjobs.config import Settings


def test_schema_names_and_error_responses() -> None:
    document = create_app(Settings(), run_worker=False).openapi()
    schemas = document["components"]["schemas"]
    for name in (
        "JobState",
        "JobStatusCode",
        "JobStatus",
        "JobRuleReference",
        "Job",
        "JobContext",
        "Problem",
    ):
        assert name in schemas, name
    for path, operations in document["paths"].items():
        if not path.startswith("/job"):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "200" in responses, (method, path)
            assert "401" in responses, (method, path)
            for status, response in responses.items():
                if status.startswith("4"):
                    assert "application/problem+json" in response["content"], (path, status)
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
