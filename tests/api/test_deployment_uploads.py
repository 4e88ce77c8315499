"""Hostile uploads through `POST /deployment/create` (CONFORMANCE B8): refused with a
problem before any parser runs, and nothing of the deployment is stored. The guards
themselves are tested in depth in tests/core/test_uploads.py."""

from __future__ import annotations

import httpx

from app.core.config import Settings
from tests.api.conftest import Headers, assert_problem, open_client
from tests.api.repository_fixtures import bpmn, deploy, zipped
from tests.conftest import make_settings

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE definitions [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&secret;</bpmn:definitions>
"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol2;</bpmn:definitions>
"""


async def _nothing_stored(client: httpx.AsyncClient, admin: Headers) -> None:
    for path in ("/deployment/count", "/process-definition/count"):
        response = await client.get(path, headers=admin)
        assert response.json() == {"count": 0}, path


async def test_b8_external_entity_is_400_before_parsing(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    body = assert_problem(await deploy(client, admin, {"evil.bpmn": XXE}), 400)
    assert body["detail"].startswith("evil.bpmn")
    assert "DOCTYPE" in body["detail"]
    assert "root:" not in body["detail"]  # nothing of /etc/passwd leaked
    await _nothing_stored(client, admin)


async def test_b8_entity_expansion_is_400(client: httpx.AsyncClient, admin: Headers) -> None:
    files = {"ok.bpmn": bpmn("ok"), "bomb.bpmn": LAUGHS}
    body = assert_problem(await deploy(client, admin, files), 400)
    assert body["detail"].startswith("bomb.bpmn")
    await _nothing_stored(client, admin)


async def test_b8_archive_with_path_traversal_is_400(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    archive = zipped({"ok.bpmn": bpmn("ok"), "../escape.bpmn": bpmn("escape")})
    body = assert_problem(await deploy(client, admin, {"models.zip": archive}), 400)
    assert "models.zip" in body["detail"]
    await _nothing_stored(client, admin)


async def test_b8_hostile_xml_inside_an_archive_is_400(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    archive = zipped({"evil.bpmn": XXE})
    assert_problem(await deploy(client, admin, {"models.bar": archive}), 400)
    await _nothing_stored(client, admin)


async def test_b8_archive_over_the_entry_limit_is_400(admin: Headers) -> None:
    settings = make_settings(archive_max_entries=2)
    archive = zipped({f"p{i}.bpmn": bpmn(f"p{i}") for i in range(3)})
    async with open_client(settings) as (_, client):
        body = assert_problem(await deploy(client, admin, {"many.zip": archive}), 400)
        assert "many.zip" in body["detail"]
        await _nothing_stored(client, admin)


async def test_b8_oversized_upload_is_413(admin: Headers) -> None:
    settings: Settings = make_settings(upload_max_bytes=2048)
    big = bpmn("big").replace(
        b"</bpmn:definitions>", b"<!--" + b"x" * 4096 + b"--></bpmn:definitions>"
    )
    async with open_client(settings) as (_, client):
        assert_problem(await deploy(client, admin, {"big.bpmn": big}), 413)
        await _nothing_stored(client, admin)


async def test_deployment_without_files_or_with_unknown_fields_is_400(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    assert_problem(await deploy(client, admin, {}), 400)
    response = await deploy(client, admin, {"a.bpmn": bpmn("a")}, tenant_color="blue")
    assert "tenant-color" in assert_problem(response, 400)["detail"]
    await _nothing_stored(client, admin)


async def test_admin_deploying_for_a_tenant_that_does_not_exist_is_400(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    response = await deploy(client, admin, {"a.bpmn": bpmn("a")}, tenant="no-such-tenant")
    assert "no-such-tenant" in assert_problem(response, 400)["detail"]
    await _nothing_stored(client, admin)
