"""Hostile uploads through `POST /deployment/create` (CONFORMANCE B8): refused with a
problem before any parser runs, and nothing of the deployment is stored. The guards
themselves are tested in depth in tests/core/test_uploads.py. Uploads aimed at another
tenant (B4, B5) are refused or kept apart the same way."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.conftest import Headers, Seed, TenantMember, assert_problem, open_client
from tests.api.repository_fixtures import (
    bpmn,
    deploy,
    deployed,
    dmn,
    label,
    repository_rows,
    rows,
    stored,
    zipped,
)
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
    body = assert_problem(await deploy(client, admin, {"models.bar": archive}), 400)
    assert body["detail"].startswith("models.bar:evil.bpmn")
    assert "DOCTYPE" in body["detail"]
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
    empty = assert_problem(await deploy(client, admin, {}), 400)
    assert "at least one resource" in empty["detail"]
    response = await deploy(client, admin, {"a.bpmn": bpmn("a")}, tenant_color="blue")
    assert "tenant-color" in assert_problem(response, 400)["detail"]
    await _nothing_stored(client, admin)


async def test_admin_deploying_for_a_tenant_that_does_not_exist_is_400(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    response = await deploy(client, admin, {"a.bpmn": bpmn("a")}, tenant="no-such-tenant")
    assert "no-such-tenant" in assert_problem(response, 400)["detail"]
    await _nothing_stored(client, admin)


# --------------------------------------------------------------------------- another tenant


THEIR_FILES = {"k.bpmn": bpmn("k"), "dk.dmn": dmn("dk")}
# A plain file for T2 is test_deployments.py's B5 test; these are the other upload shapes.
FOREIGN_UPLOADS: dict[str, tuple[dict[str, bytes], dict[str, str]]] = {
    "archive": ({"models.zip": zipped(THEIR_FILES)}, {}),
    "duplicate of theirs": (THEIR_FILES, {"enable_duplicate_filtering": "true"}),
    "changed only": (
        {"k.bpmn": bpmn("k", "changed"), "dk.dmn": dmn("dk")},
        {"deploy_changed_only": "true"},
    ),
}


@pytest.fixture
async def theirs(client: httpx.AsyncClient, tenant_b: TenantMember) -> dict[str, Any]:
    """T2's deployment `d` of process k and decision dk, made by T2's own member."""
    return await deployed(client, tenant_b.headers, THEIR_FILES, tenant="T2")


@pytest.mark.parametrize("upload", FOREIGN_UPLOADS)
async def test_b5_upload_for_another_tenant_is_403_and_stores_nothing(
    client: httpx.AsyncClient,
    seed: Seed,
    tenant_a: TenantMember,
    theirs: dict[str, Any],
    upload: str,
) -> None:
    """Whatever the upload, a member of T1 deploying for T2 gets the 403 an unknown tenant
    gets; duplicate filtering never answers with T2's deployment; no row changes."""
    files, fields = FOREIGN_UPLOADS[upload]
    before = await repository_rows(seed)
    foreign = await deploy(client, tenant_a.headers, files, tenant="T2", **fields)
    unknown = await deploy(client, tenant_a.headers, files, tenant="T9", **fields)
    assert_problem(foreign, 403)
    assert foreign.content == unknown.content
    assert theirs["id"] not in foreign.text
    assert await repository_rows(seed) == before


async def test_b4_duplicate_filtering_of_a_member_never_matches_another_tenants_deployment(
    client: httpx.AsyncClient,
    seed: Seed,
    tenant_a: TenantMember,
    theirs: dict[str, Any],
) -> None:
    """T1 uploads exactly T2's files under T2's name: compared with T1's own deployments
    only, so the first is new (version 1 in T1) and the second finds the first."""
    before = await repository_rows(seed)
    changed_only = {"deploy_changed_only": "true"}
    first = await deployed(client, tenant_a.headers, THEIR_FILES, tenant="T1", **changed_only)
    assert first["id"] != theirs["id"] and first["tenantId"] == "T1"
    definitions = [
        *first["deployedProcessDefinitions"].values(),
        *first["deployedDecisionDefinitions"].values(),
    ]
    assert sorted(label(d) for d in definitions) == ["dk@T1:1", "k@T1:1"]
    duplicates = {"enable_duplicate_filtering": "true"}
    again = await deployed(client, tenant_a.headers, THEIR_FILES, tenant="T1", **duplicates)
    assert again["id"] == first["id"] and again["deployedProcessDefinitions"] is None
    after = await repository_rows(seed)
    for table, previous in before.items():
        assert set(previous) <= set(after[table]), table  # T2's rows, unchanged
    assert await stored(seed) == rows(2, 4, 2, 2)
