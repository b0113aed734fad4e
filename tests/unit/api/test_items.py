"""Items: owner-scoped CRUD, list filters/sorting/paging, ETag/If-Match, 409 + rollback, Idempotency-Key."""

from __future__ import annotations

import httpx
import pytest

from tests.utils.factories import UserHandle, create_item, create_items, item_payload

ITEMS = "/api/v1/items"


async def _list(client: httpx.AsyncClient, user: UserHandle, **params: object) -> httpx.Response:
    return await client.get(ITEMS, params=params, headers=user.headers)


def _names(r: httpx.Response) -> list[str]:
    return [i["name"] for i in r.json()["items"]]


# ---- create -------------------------------------------------------------------------------------------


async def test_create_is_201_with_location_and_etag(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.post(ITEMS, json=item_payload(name="saw", price=19.99, description="sharp"), headers=user.headers)
    assert r.status_code == 201
    body = r.json()
    assert r.headers["location"] == f"{ITEMS}/{body['id']}"
    assert r.headers["etag"] == f'"{body["id"]}.1"'
    assert body | {"id": 0, "created_at": "", "updated_at": ""} == {
        "id": 0, "name": "saw", "description": "sharp", "category": "tools", "price": 19.99, "owner_id": user.id,
        "version": 1, "created_at": "", "updated_at": "",
    }
    follow = await client.get(r.headers["location"], headers=user.headers)
    assert follow.json() == body


@pytest.mark.parametrize(
    "override",
    [{"price": -1}, {"price": "12.50"}, {"price": 1_000_001}, {"category": "Tools!"}, {"category": ""}, {"name": ""},
     {"name": "x" * 101}],
)
async def test_create_invalid_is_422(client: httpx.AsyncClient, user: UserHandle, override: dict[str, object]) -> None:
    r = await client.post(ITEMS, json=item_payload(**override), headers=user.headers)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"


async def test_price_is_rounded_to_cents_half_even(client: httpx.AsyncClient, user: UserHandle) -> None:
    assert (await create_item(client, user, price=1.234))["price"] == 1.23
    assert (await create_item(client, user, price=0.125))["price"] == 0.12


@pytest.mark.parametrize("field", ["owner_id", "id", "version"])
async def test_create_mass_assignment_is_422(client: httpx.AsyncClient, user: UserHandle, field: str) -> None:
    r = await client.post(ITEMS, json=item_payload() | {field: 999}, headers=user.headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["type"] == "extra_forbidden"


async def test_create_without_auth_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.post(ITEMS, json=item_payload())).status_code == 401


async def test_duplicate_name_is_409_and_session_recovers(client: httpx.AsyncClient, user: UserHandle) -> None:
    await create_item(client, user, name="unique")
    r = await client.post(ITEMS, json=item_payload(name="unique"), headers=user.headers)
    assert r.status_code == 409
    assert r.json()["detail"] == "You already have an item with this name."
    # The transaction was rolled back: the next write on a fresh request succeeds and nothing leaked.
    assert (await client.post(ITEMS, json=item_payload(name="after"), headers=user.headers)).status_code == 201
    assert sorted(_names(await _list(client, user))) == ["after", "unique"]


async def test_same_name_for_different_owners_is_fine(
    client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle
) -> None:
    await create_item(client, user, name="shared")
    await create_item(client, other_user, name="shared")


# ---- read / ownership -----------------------------------------------------------------------------------


async def test_another_users_item_is_404_everywhere(
    client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle
) -> None:
    item = await create_item(client, user)
    url = f"{ITEMS}/{item['id']}"
    assert (await client.get(url, headers=other_user.headers)).status_code == 404
    assert (await client.get(f"{url}/cached", headers=other_user.headers)).status_code == 404
    put = await client.put(url, json=item_payload(), headers=other_user.headers | {"If-Match": "*"})
    assert put.status_code == 404
    assert (await client.delete(url, headers=other_user.headers)).status_code == 404
    assert (await client.get(url, headers=user.headers)).json()["version"] == 1


async def test_missing_item_is_404(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.get(f"{ITEMS}/987654", headers=user.headers)
    assert r.status_code == 404
    assert r.json()["detail"] == "No such item."


@pytest.mark.parametrize("item_id", ["0", "-3", str(2**31), "abc"])
async def test_bad_item_id_is_422(client: httpx.AsyncClient, user: UserHandle, item_id: str) -> None:
    assert (await client.get(f"{ITEMS}/{item_id}", headers=user.headers)).status_code == 422


# ---- list ----------------------------------------------------------------------------------------------


@pytest.fixture
async def catalogue(client: httpx.AsyncClient, user: UserHandle) -> list[dict[str, object]]:
    return await create_items(client, user, [
        {"name": "bolt", "category": "hardware", "price": 0.5},
        {"name": "anvil", "category": "tools", "price": 120},
        {"name": "chisel", "category": "tools", "price": 15.25},
        {"name": "drill", "category": "power", "price": 89.9},
        {"name": "clamp", "category": "tools", "price": 15.25},
    ])


async def test_list_only_own_items_with_defaults(
    client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle, catalogue: list[dict[str, object]]
) -> None:
    await create_item(client, other_user, name="not-mine")
    r = await _list(client, user)
    body = r.json()
    assert (body["total"], body["limit"], body["offset"]) == (5, 20, 0)
    assert _names(r) == ["bolt", "anvil", "chisel", "drill", "clamp"]  # id order by default


async def test_filter_by_category(client: httpx.AsyncClient, user: UserHandle, catalogue: object) -> None:
    r = await _list(client, user, category="tools")
    assert r.json()["total"] == 3
    assert set(_names(r)) == {"anvil", "chisel", "clamp"}


async def test_filter_by_price_range(client: httpx.AsyncClient, user: UserHandle, catalogue: object) -> None:
    r = await _list(client, user, min_price="15.25", max_price="90")
    assert set(_names(r)) == {"chisel", "clamp", "drill"}
    assert set(_names(await _list(client, user, min_price=100))) == {"anvil"}
    assert set(_names(await _list(client, user, max_price=1))) == {"bolt"}


async def test_filters_combine(client: httpx.AsyncClient, user: UserHandle, catalogue: object) -> None:
    r = await _list(client, user, category="tools", max_price=20, sort="name")
    assert _names(r) == ["chisel", "clamp"]


async def test_sort_by_price_both_orders_with_id_tiebreak(
    client: httpx.AsyncClient, user: UserHandle, catalogue: object
) -> None:
    assert _names(await _list(client, user, sort="price")) == ["bolt", "chisel", "clamp", "drill", "anvil"]
    assert _names(await _list(client, user, sort="price", order="desc")) == [
        "anvil", "drill", "clamp", "chisel", "bolt"]


async def test_sort_by_name_both_orders(client: httpx.AsyncClient, user: UserHandle, catalogue: object) -> None:
    asc = _names(await _list(client, user, sort="name", order="asc"))
    assert asc == ["anvil", "bolt", "chisel", "clamp", "drill"]
    assert _names(await _list(client, user, sort="name", order="desc")) == asc[::-1]


async def test_limit_and_offset_page_through(client: httpx.AsyncClient, user: UserHandle, catalogue: object) -> None:
    pages = [_names(await _list(client, user, sort="name", limit=2, offset=o)) for o in (0, 2, 4, 6)]
    assert pages == [["anvil", "bolt"], ["chisel", "clamp"], ["drill"], []]
    r = await _list(client, user, limit=2, offset=4)
    assert (r.json()["total"], r.json()["limit"], r.json()["offset"]) == (5, 2, 4)


async def test_limit_at_max_is_accepted(client: httpx.AsyncClient, user: UserHandle) -> None:
    assert (await _list(client, user, limit=100)).status_code == 200


@pytest.mark.parametrize(
    "params",
    [{"limit": 101}, {"limit": 0}, {"offset": -1}, {"sort": "owner_id"}, {"order": "sideways"},
     {"min_price": -1}, {"max_price": "lots"}, {"category": "Bad Category"}],
)
async def test_invalid_list_params_are_422(
    client: httpx.AsyncClient, user: UserHandle, params: dict[str, object]
) -> None:
    r = await _list(client, user, **params)
    assert r.status_code == 422
    assert r.json()["errors"]


async def test_inverted_price_range_is_simply_empty(
    client: httpx.AsyncClient, user: UserHandle, catalogue: object
) -> None:
    r = await _list(client, user, min_price=50, max_price=10)
    assert r.status_code == 200
    assert (r.json()["items"], r.json()["total"]) == ([], 0)


async def test_limit_over_max_names_the_field(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await _list(client, user, limit=1000)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["query", "limit"]


async def test_unknown_query_parameter_is_422(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await _list(client, user, owner_id=1)
    assert r.status_code == 422
    assert r.json()["errors"][0]["type"] == "extra_forbidden"


# ---- replace with If-Match -------------------------------------------------------------------------------


async def test_replace_with_current_etag(client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user, name="old")
    url = f"{ITEMS}/{item['id']}"
    etag = (await client.get(url, headers=user.headers)).headers["etag"]
    r = await client.put(url, json=item_payload(name="new", price=3), headers=user.headers | {"If-Match": etag})
    assert r.status_code == 200
    body = r.json()
    assert (body["name"], body["price"], body["version"]) == ("new", 3.0, 2)
    assert r.headers["etag"] == f'"{item["id"]}.2"'
    assert body["updated_at"] >= item["updated_at"]


async def test_stale_if_match_is_412(client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user)
    url = f"{ITEMS}/{item['id']}"
    first = await client.put(url, json=item_payload(), headers=user.headers | {"If-Match": f'"{item["id"]}.1"'})
    assert first.status_code == 200
    stale = await client.put(url, json=item_payload(), headers=user.headers | {"If-Match": f'"{item["id"]}.1"'})
    assert stale.status_code == 412
    assert stale.json()["type"].endswith("/precondition-failed")
    assert (await client.get(url, headers=user.headers)).json()["version"] == 2


async def test_missing_if_match_is_428(client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user)
    r = await client.put(f"{ITEMS}/{item['id']}", json=item_payload(), headers=user.headers)
    assert r.status_code == 428
    assert r.headers["content-type"] == "application/problem+json"


async def test_if_match_star_matches_any_version(client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user)
    r = await client.put(f"{ITEMS}/{item['id']}", json=item_payload(), headers=user.headers | {"If-Match": "*"})
    assert r.status_code == 200
    assert r.json()["version"] == 2


@pytest.mark.parametrize("header", ['"999.1"', "1.1", 'W/"{id}.1"', '"{id}.x"'])
async def test_if_match_for_other_entity_or_malformed_is_412(
    client: httpx.AsyncClient, user: UserHandle, header: str
) -> None:
    item = await create_item(client, user)
    r = await client.put(f"{ITEMS}/{item['id']}", json=item_payload(),
                         headers=user.headers | {"If-Match": header.format(id=item["id"])})
    assert r.status_code == 412


async def test_if_match_list_matches_any_member(client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user)
    header = f'"{item["id"]}.7", "{item["id"]}.1"'
    r = await client.put(f"{ITEMS}/{item['id']}", json=item_payload(), headers=user.headers | {"If-Match": header})
    assert r.status_code == 200


async def test_replace_missing_item_is_404_not_412(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.put(f"{ITEMS}/55555", json=item_payload(), headers=user.headers | {"If-Match": '"55555.1"'})
    assert r.status_code == 404


async def test_replace_to_duplicate_name_is_409_and_rolls_back(client: httpx.AsyncClient, user: UserHandle) -> None:
    await create_item(client, user, name="taken")
    item = await create_item(client, user, name="mine")
    url = f"{ITEMS}/{item['id']}"
    r = await client.put(url, json=item_payload(name="taken"), headers=user.headers | {"If-Match": "*"})
    assert r.status_code == 409
    current = (await client.get(url, headers=user.headers)).json()
    assert (current["name"], current["version"]) == ("mine", 1)
    ok = await client.put(url, json=item_payload(name="renamed"),
                          headers=user.headers | {"If-Match": f'"{item["id"]}.1"'})
    assert ok.status_code == 200


async def test_replace_rejects_server_fields(client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user)
    r = await client.put(f"{ITEMS}/{item['id']}", json=item_payload() | {"owner_id": 2},
                         headers=user.headers | {"If-Match": "*"})
    assert r.status_code == 422


# ---- delete --------------------------------------------------------------------------------------------


async def test_delete_then_gone(client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user)
    url = f"{ITEMS}/{item['id']}"
    r = await client.delete(url, headers=user.headers)
    assert r.status_code == 204
    assert r.content == b""
    assert (await client.get(url, headers=user.headers)).status_code == 404
    assert (await client.delete(url, headers=user.headers)).status_code == 404


# ---- Idempotency-Key -----------------------------------------------------------------------------------


async def test_idempotent_replay_returns_the_same_item(client: httpx.AsyncClient, user: UserHandle) -> None:
    payload = item_payload(name="once")
    headers = user.headers | {"Idempotency-Key": "k-1"}
    first = await client.post(ITEMS, json=payload, headers=headers)
    second = await client.post(ITEMS, json=payload, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert (await _list(client, user)).json()["total"] == 1


async def test_idempotency_key_with_different_body_is_422(client: httpx.AsyncClient, user: UserHandle) -> None:
    headers = user.headers | {"Idempotency-Key": "k-2"}
    assert (await client.post(ITEMS, json=item_payload(name="a"), headers=headers)).status_code == 201
    r = await client.post(ITEMS, json=item_payload(name="b"), headers=headers)
    assert r.status_code == 422
    assert "different request body" in r.json()["detail"]


async def test_idempotency_keys_are_per_user(
    client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle
) -> None:
    payload = item_payload(name="same")
    a = await client.post(ITEMS, json=payload, headers=user.headers | {"Idempotency-Key": "shared"})
    b = await client.post(ITEMS, json=payload, headers=other_user.headers | {"Idempotency-Key": "shared"})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert "idempotent-replayed" not in b.headers


async def test_failed_create_releases_the_idempotency_key(client: httpx.AsyncClient, user: UserHandle) -> None:
    existing = await create_item(client, user, name="dup")
    payload = item_payload(name="dup")
    headers = user.headers | {"Idempotency-Key": "retry-me"}
    assert (await client.post(ITEMS, json=payload, headers=headers)).status_code == 409
    await client.delete(f"{ITEMS}/{existing['id']}", headers=user.headers)
    r = await client.post(ITEMS, json=payload, headers=headers)
    assert r.status_code == 201
    assert "idempotent-replayed" not in r.headers


async def test_empty_idempotency_key_is_422(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.post(ITEMS, json=item_payload(), headers=user.headers | {"Idempotency-Key": ""})
    assert r.status_code == 422


async def test_create_carries_rate_limit_headers(client: httpx.AsyncClient, user: UserHandle) -> None:
    """The create route returns its own response object; the limiter's headers must survive that."""
    r = await client.post("/api/v1/items", json=item_payload(), headers=user.headers)
    assert r.status_code == 201
    assert r.headers.get_list("X-RateLimit-Limit") == ["10000"]
    assert int(r.headers["X-RateLimit-Remaining"]) < 10000


async def test_idempotent_replay_resends_the_etag(client: httpx.AsyncClient, user: UserHandle) -> None:
    headers = {**user.headers, "Idempotency-Key": "etag-replay-1"}
    body = item_payload()
    first = await client.post("/api/v1/items", json=body, headers=headers)
    again = await client.post("/api/v1/items", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == first.headers["ETag"] == f'"{first.json()["id"]}.1"'
