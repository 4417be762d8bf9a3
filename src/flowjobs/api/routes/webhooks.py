"""Management API for webhooks (Management key): webhooks of the key's space,
their deliveries, a test event, redelivery. See docs/webhooks.md."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from flowjobs.api.deps import (
    AppState,
    ManagementKeyDep,
    WebhooksDep,
    get_state,
    read_json,
)
from flowjobs.api.problems import problem_responses
from flowjobs.domain import DeliveryState
from flowjobs.schemas import (
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryPublic,
    WebhookPublic,
    WebhookUpdate,
    created_webhook,
)

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])
Model = TypeVar("Model", bound=BaseModel)


def _json_body(model: type[Model]) -> Callable[..., Awaitable[Model]]:
    """A dependency reading the body (size-limited) as ``model``. Declared
    after the key in each route, so a bad key answers 401 before the body is read."""

    async def dependency(request: Request, state: Annotated[AppState, Depends(get_state)]) -> Model:
        raw = await read_json(request, state.settings)
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None

    return dependency


def _documented_body(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)  # WebhookEvent is in the components (responses use it)
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


CreateBody = Annotated[WebhookCreate, Depends(_json_body(WebhookCreate))]
UpdateBody = Annotated[WebhookUpdate, Depends(_json_body(WebhookUpdate))]
Limit = Annotated[int, Query(ge=1, le=500, description="at most this many, newest first")]
StateFilter = Annotated[DeliveryState | None, Query(description="only deliveries in this state")]


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    summary="Create a webhook; the answer holds its signing secret, shown this once",
    responses=problem_responses(400, 401, 403, 409, 413),
    openapi_extra=_documented_body(WebhookCreate),
)
async def create(
    key: ManagementKeyDep, webhooks: WebhooksDep, spec: CreateBody, response: Response
) -> WebhookCreated:
    created = await webhooks.create(key.space_id, spec)
    response.headers["Location"] = f"/api/webhooks/{created.webhook.id}"
    return created_webhook(created.webhook, created.secret)


@router.get(
    "",
    response_model=list[WebhookPublic],
    summary="The webhooks of the space, by alias",
    responses=problem_responses(401, 403),
)
async def list_webhooks(key: ManagementKeyDep, webhooks: WebhooksDep) -> list[WebhookPublic]:
    return [WebhookPublic.from_webhook(w) for w in await webhooks.list_webhooks(key.space_id)]


@router.get(
    "/{webhookId}",
    response_model=WebhookPublic,
    summary="One webhook, by id or alias",
    responses=problem_responses(401, 403, 404),
)
async def get_webhook(
    webhookId: str, key: ManagementKeyDep, webhooks: WebhooksDep
) -> WebhookPublic:
    return WebhookPublic.from_webhook(await webhooks.get(key.space_id, webhookId))


@router.put(
    "/{webhookId}",
    response_model=WebhookPublic,
    summary="Change a webhook: the fields given replace the stored ones",
    responses=problem_responses(400, 401, 403, 404, 409, 413),
    openapi_extra=_documented_body(WebhookUpdate),
)
async def update_webhook(
    webhookId: str, key: ManagementKeyDep, webhooks: WebhooksDep, changes: UpdateBody
) -> WebhookPublic:
    return WebhookPublic.from_webhook(await webhooks.update(key.space_id, webhookId, changes))


@router.delete(
    "/{webhookId}",
    status_code=204,
    summary="Delete a webhook with its deliveries (pending ones are not sent)",
    responses=problem_responses(401, 403, 404),
)
async def delete_webhook(webhookId: str, key: ManagementKeyDep, webhooks: WebhooksDep) -> Response:
    await webhooks.delete(key.space_id, webhookId)
    return Response(status_code=204)


@router.get(
    "/{webhookId}/deliveries",
    response_model=list[WebhookDeliveryPublic],
    summary="A webhook's deliveries with every attempt, newest first",
    responses=problem_responses(400, 401, 403, 404),
)
async def deliveries(
    webhookId: str,
    key: ManagementKeyDep,
    webhooks: WebhooksDep,
    limit: Limit = 50,
    state: StateFilter = None,
) -> list[WebhookDeliveryPublic]:
    found = await webhooks.deliveries(key.space_id, webhookId, limit=limit, state=state)
    return [WebhookDeliveryPublic.from_delivery(d) for d in found]


@router.post(
    "/{webhookId}/test",
    response_model=WebhookDeliveryPublic,
    summary="Send a signed WEBHOOK.TEST event now (one attempt) and answer its outcome",
    responses=problem_responses(401, 403, 404, 503),
)
async def test_webhook(
    webhookId: str, key: ManagementKeyDep, webhooks: WebhooksDep
) -> WebhookDeliveryPublic:
    return WebhookDeliveryPublic.from_delivery(await webhooks.send_test(key.space_id, webhookId))


@router.post(
    "/deliveries/{deliveryId}/redeliver",
    status_code=202,
    response_model=WebhookDeliveryPublic,
    summary="Queue a delivery again, now, with a fresh retry window",
    responses=problem_responses(401, 403, 404, 409),
)
async def redeliver(
    deliveryId: str, key: ManagementKeyDep, webhooks: WebhooksDep
) -> WebhookDeliveryPublic:
    return WebhookDeliveryPublic.from_delivery(await webhooks.redeliver(key.space_id, deliveryId))
