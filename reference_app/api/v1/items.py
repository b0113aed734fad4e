"""Items: CRUD with owners, filters, ETag/If-Match, Idempotency-Key, and a cached read twin."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse

from reference_app.core.config import Settings
from reference_app.core.db import SessionDep, open_session
from reference_app.core.deps import CurrentUser, CurrentUserRef, SettingsDep, principal_limit
from reference_app.core.errors import PreconditionRequired, Unprocessable, problem_responses
from reference_app.schemas.items import ItemCreate, ItemFilter, ItemId, ItemPage, ItemPublic, ItemReplace
from reference_app.services import idempotency
from reference_app.services import items as item_service

router = APIRouter(
    prefix="/items",
    tags=["items"],
    dependencies=[Depends(principal_limit("api", "default_limit"))],
)
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)]
MAX_IF_MATCH = 512
_ETAG_HEADER = {"ETag": {"description": "Entity tag of the current version.", "schema": {"type": "string"}}}


@router.get(
    "", operation_id="items_list", response_model=ItemPage, responses=problem_responses(401, 403, 422, 429)
)
async def list_items(user: CurrentUser, session: SessionDep, filters: Annotated[ItemFilter, Query()]) -> ItemPage:
    rows, total = await item_service.list_items(session, user.id, filters)
    return ItemPage(
        items=[ItemPublic.model_validate(r) for r in rows], total=total, limit=filters.limit, offset=filters.offset
    )


@router.post(
    "",
    operation_id="items_create",
    status_code=status.HTTP_201_CREATED,
    response_model=ItemPublic,
    responses={
        201: {"headers": {"Location": {"description": "URL of the new item.", "schema": {"type": "string"}},
                          **_ETAG_HEADER}},
        **problem_responses(401, 403, 409, 413, 422, 429),
    },
)
async def create_item(
    request: Request,
    body: ItemCreate,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    # A returned JSONResponse does not get headers that dependencies set (the rate limiter's
    # X-RateLimit-*), so they are carried over explicitly.
    carried = dict(response.headers)
    # Read once: a rollback (e.g. on a duplicate name) expires ORM instances, and touching
    # ``user.id`` afterwards would lazy-load outside the async greenlet (MissingGreenlet -> 500).
    user_id = user.id
    if idempotency_key is not None:
        digest = idempotency.fingerprint(body.model_dump_json().encode())
        stored = await idempotency.claim(session, user_id, idempotency_key, digest)
        if stored is not None:
            headers = {**carried, "Idempotent-Replayed": "true"}
            if stored.location:
                headers["Location"] = stored.location
            replayed = ItemPublic.model_validate(stored.body)
            headers["ETag"] = item_service.etag(replayed)
            return JSONResponse(stored.body, status_code=stored.status_code, headers=headers)
    try:
        item = ItemPublic.model_validate(await item_service.create(session, user_id, body))
    except Exception:
        if idempotency_key is not None:
            await idempotency.release(session, user_id, idempotency_key)
        raise
    location = str(request.url_for("items_read", item_id=item.id).path)
    payload = json.loads(item.model_dump_json())
    if idempotency_key is not None:
        await idempotency.complete(session, user_id, idempotency_key, 201, payload, location)
    headers = {**carried, "Location": location, "ETag": item_service.etag(item)}
    return JSONResponse(payload, status_code=201, headers=headers)


@router.get(
    "/{item_id}",
    name="items_read",
    operation_id="items_read",
    response_model=ItemPublic,
    responses={200: {"headers": _ETAG_HEADER}, **problem_responses(401, 403, 404, 422, 429)},
)
async def read_item(item_id: ItemId, user: CurrentUser, session: SessionDep, response: Response) -> ItemPublic:
    item = ItemPublic.model_validate(await item_service.get_owned(session, user.id, item_id))
    response.headers["ETag"] = item_service.etag(item)
    return item


@router.get(
    "/{item_id}/cached",
    operation_id="items_read_cached",
    response_model=ItemPublic,
    responses={
        200: {"headers": {**_ETAG_HEADER, "X-Cache": {"description": "hit or miss", "schema": {"type": "string"}}}},
        **problem_responses(401, 403, 404, 422, 429),
    },
)
async def read_item_cached(request: Request, item_id: ItemId, user: CurrentUserRef, response: Response) -> Response:
    # The hot path: the principal comes from its cache, the body from this one, and the stored bytes
    # go out as they are (a returned Response skips FastAPI's response-model validation). No session
    # is opened unless the item must be read from the database. Settings come from app state rather
    # than SettingsDep: each dependency node is a resolution step on every request.
    settings: Settings = request.app.state.settings
    entry, hit = await item_service.read_cached(
        lambda: open_session(request), request.app.state.cache, settings.cache_key_prefix, settings.cache_ttl_s,
        user.id, item_id,
    )
    metrics = request.app.state.metrics
    if metrics is not None:
        metrics.cache_lookup(hit)
    # Headers that dependencies set (the rate limiter's X-RateLimit-*) are carried over explicitly.
    headers = {**response.headers, "X-Cache": "hit" if hit else "miss", "ETag": entry.etag}
    return Response(entry.body, media_type="application/json", headers=headers)


@router.put(
    "/{item_id}",
    operation_id="items_replace",
    response_model=ItemPublic,
    responses={200: {"headers": _ETAG_HEADER}, **problem_responses(401, 403, 404, 409, 412, 413, 422, 428, 429)},
    # Read from the request rather than declared as a parameter: a declared required header would
    # make its absence a 422, and RFC 6585 gives a missing precondition its own status, 428.
    openapi_extra={"parameters": [{
        "name": "If-Match", "in": "header", "required": True,
        "description": "The ETag you read (or `*`). Missing: 428. No longer current: 412.",
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IF_MATCH},
    }]},
)
async def replace_item(
    request: Request,
    item_id: ItemId,
    body: ItemReplace,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> ItemPublic:
    if_match = request.headers.get("if-match")
    if not if_match:
        raise PreconditionRequired("Send If-Match with the ETag you read, so concurrent edits are not lost.")
    if len(if_match) > MAX_IF_MATCH:
        raise Unprocessable(f"If-Match is longer than {MAX_IF_MATCH} characters.")
    versions = item_service.parse_if_match(if_match, item_id)
    item = ItemPublic.model_validate(await item_service.replace(session, user.id, item_id, versions, body))
    await item_service.invalidate(request.app.state.cache, settings.cache_key_prefix, item_id)
    request.app.state.hub.publish(f"item:{item_id}", item_service.event("item.updated", item, item_id))
    response.headers["ETag"] = item_service.etag(item)
    return item


@router.delete(
    "/{item_id}",
    operation_id="items_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422, 429),
)
async def delete_item(
    request: Request, item_id: ItemId, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Response:
    await item_service.delete(session, user.id, item_id)
    await item_service.invalidate(request.app.state.cache, settings.cache_key_prefix, item_id)
    request.app.state.hub.publish(f"item:{item_id}", item_service.event("item.deleted", None, item_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
