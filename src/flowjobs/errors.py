"""One exception tree for the whole package.

Each exception's docstring is its default message. ``code`` is the stable
machine-readable code that the HTTP layer puts in problem bodies, and
``status`` the HTTP status it maps to; nothing here knows about HTTP itself.
"""

from __future__ import annotations

from typing import Any


class FlowjobsError(Exception):
    """An error occurred in flowjobs."""

    code = "INTERNAL_ERROR"
    status = 500

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        self.message = message or (self.__doc__ or "").strip()
        self.extra = extra
        super().__init__(self.message)


class UnauthorizedError(FlowjobsError):
    """Unauthorized. Invalid or missing API key."""

    code = "UNAUTHORIZED"
    status = 401


class ForbiddenError(FlowjobsError):
    """This API key may not act on that space."""

    code = "FORBIDDEN"
    status = 403


class NotFoundError(FlowjobsError):
    """Not found."""

    code = "NOT_FOUND"
    status = 404


class JobNotFoundError(NotFoundError):
    """Job not found."""

    code = "JOB_NOT_FOUND"


class KeyNotFoundError(NotFoundError):
    """API key not found."""

    code = "KEY_NOT_FOUND"


class RuleNotFoundError(NotFoundError):
    """Rule not found."""

    code = "RULE_NOT_FOUND"


class RuleVersionNotFoundError(NotFoundError):
    """Rule version not found or not published."""

    code = "RULE_VERSION_NOT_FOUND"


class SpaceNotFoundError(NotFoundError):
    """Space not found."""

    code = "SPACE_NOT_FOUND"


class BadRequestError(FlowjobsError):
    """The request is not valid."""

    code = "BAD_REQUEST"
    status = 400


class InvalidJsonError(BadRequestError):
    """The request body is not valid JSON."""

    code = "INVALID_JSON"


class InvalidVersionError(BadRequestError):
    """A version is a positive integer or 'latest'."""

    code = "INVALID_VERSION"


class InvalidRequestError(BadRequestError):
    """A query parameter or header is not valid."""

    code = "INVALID_REQUEST"


class NotAnIntegrationFlowError(BadRequestError):
    """Only rules of type integration-flow can be started as jobs."""

    code = "NOT_AN_INTEGRATION_FLOW"


class RuleNotPublishedError(BadRequestError):
    """Rule state is not published"""

    code = "RULE_NOT_PUBLISHED"


class RuleNotSolvableError(BadRequestError):
    """Only decision tables and rule flows can be solved."""

    code = "RULE_NOT_SOLVABLE"


class AuditNotFoundError(NotFoundError):
    """Audit not found."""

    code = "AUDIT_NOT_FOUND"


class PayloadTooLargeError(FlowjobsError):
    """The request body is larger than the configured limit."""

    code = "PAYLOAD_TOO_LARGE"
    status = 413


class OverBudgetError(PayloadTooLargeError):
    """A document took longer to parse or validate than its time budget."""

    code = "DOCUMENT_OVER_BUDGET"


class JsonTooDeepError(BadRequestError):
    """The request body nests arrays and objects deeper than the configured limit."""

    code = "JSON_TOO_DEEP"


class UnsupportedCharacterError(BadRequestError):
    """The request holds a NUL character (U+0000), which flowjobs does not store."""

    code = "UNSUPPORTED_CHARACTER"


class HeadersTooLargeError(FlowjobsError):
    """The request's headers are larger than the configured limit."""

    code = "HEADERS_TOO_LARGE"
    status = 431


class JobConflictError(FlowjobsError):
    """The job is in a state that does not allow this operation."""

    code = "JOB_STATE_CONFLICT"
    status = 409


class FlowValidationError(FlowjobsError):
    """The flow document is not valid."""

    code = "INVALID_FLOW"
    status = 422

    def __init__(self, problems: list[str], message: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__(message or "The flow document is not valid: " + "; ".join(problems))


class FlowExecutionError(FlowjobsError):
    """The flow failed."""

    code = "FLOW_EXECUTION_ERROR"

    def __init__(
        self, message: str, *, node_id: str | None = None, error_type: str = "ExecutionError"
    ) -> None:
        self.node_id = node_id
        self.error_type = error_type
        super().__init__(message)


class StoreError(FlowjobsError):
    """The database could not complete the operation."""

    code = "STORE_ERROR"
    status = 503


class AlreadyExistsError(FlowjobsError):
    """Something with that name already exists."""

    code = "ALREADY_EXISTS"
    status = 409


class WrongKeyKindError(ForbiddenError):
    """This endpoint needs a different kind of API key."""

    code = "WRONG_KEY_KIND"


class QuotaExceededError(FlowjobsError):
    """The space's free execution seconds for this month are used up."""

    code = "JOB_QUOTA_EXCEEDED"
    status = 402


class InvalidMonthError(BadRequestError):
    """A month is written YYYY-MM, e.g. 2026-11."""

    code = "INVALID_MONTH"


class InvalidQuotaError(BadRequestError):
    """A quota is a number of seconds, zero or more, or unlimited."""

    code = "INVALID_QUOTA"


# ---- the Management API for rules --------------------------------------------------


class InvalidRuleError(FlowValidationError):
    """The rule is not valid."""

    code = "INVALID_RULE"
    status = 400

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems, "The rule is not valid: " + "; ".join(problems))


class RuleExistsError(AlreadyExistsError):
    """A rule with that alias already exists in this space."""

    code = "RULE_ALREADY_EXISTS"


class RuleVersionInUseError(FlowjobsError):
    """The rule version has waiting or running jobs."""

    code = "RULE_VERSION_IN_USE"
    status = 409


class InvalidInputError(BadRequestError):
    """The job's input does not match the rule's inputSchema."""

    code = "INVALID_INPUT"

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        shown = "; ".join(problems[:5])
        if len(problems) > 5:
            shown += f"; ... ({len(problems)} lines in problems)"
        super().__init__(f"The input does not match the rule's inputSchema: {shown}")


class WebhookNotFoundError(NotFoundError):
    """Webhook not found."""

    code = "WEBHOOK_NOT_FOUND"


class DeliveryNotFoundError(NotFoundError):
    """Webhook delivery not found."""

    code = "DELIVERY_NOT_FOUND"


class InvalidWebhookError(BadRequestError):
    """The webhook is not valid."""

    code = "INVALID_WEBHOOK"


class InvalidWebhookUrlError(InvalidWebhookError):
    """The webhook URL is not an allowed http or https URL."""

    code = "INVALID_WEBHOOK_URL"


class DeliveryConflictError(FlowjobsError):
    """The delivery is being attempted right now."""

    code = "DELIVERY_IN_PROGRESS"
    status = 409


class SecretKeyMissingError(FlowjobsError):
    """Webhooks need FLOWJOBS_SECRET_KEY, the key that encrypts their secrets."""

    code = "SECRET_KEY_MISSING"
    status = 503


class SecretDecryptionError(FlowjobsError):
    """A webhook secret cannot be decrypted with the keys in FLOWJOBS_SECRET_KEY."""

    code = "SECRET_UNREADABLE"
    status = 500


class ConfigurationError(FlowjobsError):
    """The deployment's configuration is not valid."""

    code = "CONFIGURATION_ERROR"
    status = 500


class IdempotencyKeyReusedError(FlowjobsError):
    """This Idempotency-Key was already used for a different request."""

    code = "IDEMPOTENCY_KEY_REUSED"
    status = 422


class TooManyWaitersError(FlowjobsError):
    """Too many requests are waiting on jobs in this process; retry shortly."""

    code = "TOO_MANY_WAITERS"
    status = 429


# ---- dashboard (/ui) -----------------------------------------------------------------


class SignInRequiredError(UnauthorizedError):
    """Sign in to the dashboard with a Management API key."""

    code = "SIGN_IN_REQUIRED"


class CsrfTokenError(ForbiddenError):
    """The form's CSRF token is missing or wrong; reload the page and try again."""

    code = "CSRF_TOKEN_INVALID"


class RateLimitedError(FlowjobsError):
    """This API key starts jobs faster than allowed; retry after Retry-After seconds."""

    code = "RATE_LIMITED"
    status = 429

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after  # seconds until the key may start one more job
        super().__init__(
            f"This API key starts jobs faster than allowed; retry in {retry_after:.1f} s"
        )


class TooManyWaitingJobsError(FlowjobsError):
    """The space has as many waiting jobs as allowed; retry once some have run."""

    code = "TOO_MANY_WAITING_JOBS"
    status = 429
    retry_after = 5.0  # waiting jobs drain at the workers' pace, not in a second
