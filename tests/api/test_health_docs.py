"""`/health`, `/ready`, the offline docs explorer, the OpenAPI security scheme, X-Request-ID."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.main import create_app
from app.models import JobRun
from app.worker import heartbeat
from tests.api.conftest import Headers, Seed, assert_problem, member, open_client
from tests.conftest import add_tenants, make_settings

_ASSET = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)=["']([^"']+)["']""", re.I)


async def test_health_answers_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_checks_database_and_redis(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": True, "redis": True}


async def test_ready_reports_the_workers_last_heartbeat(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert (await client.get("/ready")).json()["worker"] == {
        "lastHeartbeat": None,
        "alive": False,
        "oldestDueWork": None,
        "lagSeconds": 0.0,
    }
    redis = Redis.from_url(settings.redis_url)
    try:
        await heartbeat({"redis": redis})
    finally:
        await redis.aclose()
    worker = (await client.get("/ready")).json()["worker"]
    assert isinstance(worker["lastHeartbeat"], int) and worker["alive"] is True
    assert abs(worker["lastHeartbeat"] - time.time()) < 60


async def test_ready_shows_how_far_behind_background_work_is(
    client: httpx.AsyncClient, seed: Seed
) -> None:
    """A run due a minute ago that no worker has done: the backlog is a minute old."""
    async with seed() as session:
        await add_tenants(session, "T1")
        due = datetime.now(UTC) - timedelta(minutes=1)
        session.add(
            JobRun(
                tenant_id="T1",
                job_key="k",
                handler="noop",
                trigger="manual",
                scheduled_for=due,
                due_at=due,
            )
        )
    worker = (await client.get("/ready")).json()["worker"]
    assert datetime.fromisoformat(worker["oldestDueWork"]) == due
    assert 60 <= worker["lagSeconds"] < 120


async def test_ready_is_503_when_redis_does_not_answer(engine: AsyncEngine) -> None:
    settings = make_settings(redis_url="redis://127.0.0.1:1/0")
    async with open_client(settings) as (_, client):
        response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": True, "redis": False}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_assets_are_served_by_the_app_itself(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assets = _ASSET.findall(response.text)
    assert any(a.endswith(".js") for a in assets), assets
    assert "cdn" not in response.text.lower()
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), url  # same origin: offline
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    spec = re.search(r"""(?:url: |spec-url=)["']([^"']+)["']""", response.text)
    assert spec is not None
    assert (await client.get(spec.group(1))).status_code == 200


async def test_openapi_declares_the_oauth2_password_flow(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    flows = [s["flows"]["password"] for s in schemes.values() if s["type"] == "oauth2"]
    assert [f["tokenUrl"] for f in flows] == ["auth/token"]
    (name,) = schemes
    # the Authorize button only sends the token to operations that declare the scheme
    assert spec["paths"]["/tenant"]["get"]["security"] == [{name: []}]
    assert spec["paths"]["/user/{id}/profile"]["get"]["security"] == [{name: []}]
    assert "security" not in spec["paths"]["/health"]["get"]
    assert "/auth/token" in spec["paths"]


async def test_swagger_ui_keeps_the_authorization(client: httpx.AsyncClient) -> None:
    assert '"persistAuthorization": true' in (await client.get("/docs")).text


async def test_every_response_carries_a_request_id(
    client: httpx.AsyncClient, admin: Headers, settings: Settings
) -> None:
    responses = [
        await client.get("/health"),
        await client.get("/docs"),
        await client.get("/static-offline-docs/swagger-ui.css"),
        await client.get("/tenant", headers=admin),
        await client.get("/tenant"),
        await client.get("/tenant/nope", headers=admin),
        await client.get("/no-such-route"),
        await client.post("/tenant/create", json={"tenantId": "x"}, headers=admin),
        await client.post(
            "/tenant/create",
            content=b"x" * (settings.max_json_body_bytes + 1),
            headers={**admin, "content-type": "application/json"},
        ),
    ]
    request_ids = [r.headers.get("x-request-id") for r in responses]
    assert all(request_ids), [(r.request.url, r.status_code) for r in responses]
    assert len(set(request_ids)) == len(request_ids)
    assert_problem(responses[5], 404)


async def test_a_sane_incoming_request_id_is_echoed_and_a_bad_one_replaced(
    client: httpx.AsyncClient,
) -> None:
    echoed = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    too_long = await client.get("/health", headers={"X-Request-ID": "a" * 500})
    assert too_long.headers["x-request-id"] not in ("", "a" * 500)


@pytest.fixture
async def booming_client(
    settings: Settings, engine: AsyncEngine, seed: Seed
) -> AsyncIterator[httpx.AsyncClient]:
    """A signed-in client for an app with one extra route that fails unexpectedly."""
    app = create_app(settings)
    headers = await member(seed, settings, "boom-user")

    async def boom() -> None:
        raise RuntimeError("internal detail /srv/secret.py")

    app.add_api_route("/boom", boom)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://tessera", headers=headers
        ) as client:
            yield client


async def test_an_unexpected_error_is_a_500_problem_without_details(
    booming_client: httpx.AsyncClient,
) -> None:
    response = await booming_client.get("/boom")
    assert_problem(response, 500)
    assert "secret" not in response.text and "RuntimeError" not in response.text


async def test_an_unexpected_error_still_carries_a_request_id(
    booming_client: httpx.AsyncClient,
) -> None:
    response = await booming_client.get("/boom", headers={"X-Request-ID": "trace-me"})
    assert response.status_code == 500
    assert response.headers.get("x-request-id") == "trace-me"
