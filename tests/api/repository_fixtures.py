"""Shared builders for the repository API tests: minimal valid BPMN and DMN models, zip
archives, and a `deploy()` helper for `POST /deployment/create`."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from app.core.config import Settings
from app.models import TenantGroupMembership
from app.models.repository import (
    DecisionDefinition,
    Deployment,
    DeploymentResource,
    ProcessDefinition,
)
from tests.api.conftest import Headers, Seed, member, table_rows
from tests.conftest import add_tenants, add_user, bearer

DMN13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"


def bpmn(key: str, name: str | None = None, *, version_tag: str | None = None) -> bytes:
    """One executable process `key`: start event -> end event."""
    tag = f' camunda:versionTag="{version_tag}"' if version_tag else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="defs_{key}" targetNamespace="http://tessera.test/bpmn">
  <bpmn:process id="{key}" name="{name or key}" isExecutable="true"{tag}>
    <bpmn:startEvent id="start">
      <bpmn:outgoing>flow</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="flow" sourceRef="start" targetRef="end" />
    <bpmn:endEvent id="end">
      <bpmn:incoming>flow</bpmn:incoming>
    </bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
""".encode()


def dmn(key: str, name: str | None = None) -> bytes:
    """One decision `key` with a one-rule decision table (input `amount`, output `result`)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="{DMN13}" id="drd_{key}" name="DRD {key}"
    namespace="http://tessera.test/dmn">
  <decision id="{key}" name="{name or key}">
    <decisionTable id="table_{key}">
      <input id="in_{key}" label="Amount">
        <inputExpression id="expr_{key}" typeRef="number">
          <text>amount</text>
        </inputExpression>
      </input>
      <output id="out_{key}" name="result" typeRef="string" />
      <rule id="rule_{key}">
        <inputEntry id="ie_{key}"><text>&gt; 10</text></inputEntry>
        <outputEntry id="oe_{key}"><text>"big"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
""".encode()


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


async def deploy(
    client: httpx.AsyncClient,
    headers: Headers,
    files: dict[str, bytes],
    *,
    tenant: str | None = None,
    name: str | None = "d",
    **fields: str,
) -> httpx.Response:
    """`POST /deployment/create`; `fields` use underscores for dashes
    (`enable_duplicate_filtering="true"`)."""
    data: dict[str, Any] = {k.replace("_", "-"): v for k, v in fields.items()}
    if name is not None:
        data["deployment-name"] = name
    if tenant is not None:
        data["tenant-id"] = tenant
    uploads = [("data", (n, c, "application/octet-stream")) for n, c in files.items()]
    return await client.post("/deployment/create", data=data, files=uploads, headers=headers)


async def deployed(
    client: httpx.AsyncClient,
    headers: Headers,
    files: dict[str, bytes],
    *,
    tenant: str | None = None,
    name: str | None = "d",
    **fields: str,
) -> dict[str, Any]:
    """`deploy()` that must succeed; the response body."""
    response = await deploy(client, headers, files, tenant=tenant, name=name, **fields)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def label(row: dict[str, Any]) -> str:
    """`key@tenant:version` of a definition (`-` = shared), or a deployment's name."""
    if "key" in row:
        return f"{row['key']}@{row['tenantId'] or '-'}:{row['version']}"
    return str(row["name"])


async def rows_and_count(
    client: httpx.AsyncClient, path: str, headers: Headers, **params: Any
) -> list[dict[str, Any]]:
    """Rows of an unpaged list, after checking that `{path}/count` counts exactly those (A12)."""
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    counted = await client.get(f"{path}/count", params=params, headers=headers)
    assert counted.status_code == 200, counted.text
    assert counted.json() == {"count": len(rows)}, params
    return rows


async def labels(
    client: httpx.AsyncClient, path: str, headers: Headers, **params: Any
) -> list[str]:
    """Labels of `path`'s rows in response order (count checked too)."""
    return [label(r) for r in await rows_and_count(client, path, headers, **params)]


@dataclass
class World:
    """Tenants T1, T2, T3 and callers: `admin`; `t1` (member of T1); `t2` (T2); `t12` (T1
    directly, T2 through group g2); `none` (no tenant). Deployments, by name:

    shared-a (shared): process k v1, decision dk v1     shared-b (shared): process s v1
    t1-a (T1): process k v1, decision dk v1             t1-b (T1): process k v2
    t2-a (T2): processes k v1 and only2 v1, decision dk v1
    t3-a (T3): process k v1, decision dk v1
    """

    admin: Headers
    t1: Headers
    t2: Headers
    t12: Headers
    none: Headers
    deployments: dict[str, dict[str, Any]]  # name -> create response body

    def process_id(self, deployment: str, key: str) -> str:
        found = self.deployments[deployment]["deployedProcessDefinitions"]
        return str(next(d["id"] for d in found.values() if d["key"] == key))

    def decision_id(self, deployment: str, key: str) -> str:
        found = self.deployments[deployment]["deployedDecisionDefinitions"]
        return str(next(d["id"] for d in found.values() if d["key"] == key))


_WORLD: list[tuple[str, str | None, dict[str, bytes]]] = [
    ("shared-a", None, {"k.bpmn": bpmn("k", "Shared K"), "dk.dmn": dmn("dk", "Shared DK")}),
    ("t1-a", "T1", {"k.bpmn": bpmn("k", "T1 K", version_tag="1.0"), "dk.dmn": dmn("dk")}),
    ("t1-b", "T1", {"k.bpmn": bpmn("k", "T1 K", version_tag="2.0")}),
    ("t2-a", "T2", {"k.bpmn": bpmn("k", "T2 K"), "only2.bpmn": bpmn("only2"), "dk.dmn": dmn("dk")}),
    ("t3-a", "T3", {"k.bpmn": bpmn("k", "T3 K"), "dk.dmn": dmn("dk")}),
    ("shared-b", None, {"s.bpmn": bpmn("s", "Shared S")}),
]


async def build_world(
    client: httpx.AsyncClient, seed: Seed, settings: Settings, admin: Headers
) -> World:
    async with seed() as session:
        await add_tenants(session, "T1", "T2", "T3")
        u12 = await add_user(session, "u12", tenants=["T1"], groups=["g2"])
        session.add(TenantGroupMembership(tenant_id="T2", group_id="g2"))
    world = World(
        admin=admin,
        t1=await member(seed, settings, "u1", tenants=["T1"]),
        t2=await member(seed, settings, "u2", tenants=["T2"]),
        t12=bearer(settings, u12),
        none=await member(seed, settings, "loner"),
        deployments={},
    )
    for name, tenant, files in _WORLD:
        source = "world" if tenant else None
        fields = {"deployment_source": source} if source else {}
        body = await deployed(client, admin, files, tenant=tenant, name=name, **fields)
        world.deployments[name] = body
    return world


async def effective(
    client: httpx.AsyncClient,
    headers: Headers,
    key: str,
    *,
    tenant: str | None = None,
    kind: str = "process",
    **params: Any,
) -> str:
    """Label of `GET /{kind}-definition/key/{key}[/tenant-id/{tenant}]` (must be 200)."""
    path = f"/{kind}-definition/key/{key}" + (f"/tenant-id/{tenant}" if tenant else "")
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return label(response.json())


REPOSITORY_MODELS = (Deployment, DeploymentResource, ProcessDefinition, DecisionDefinition)


async def repository_rows(seed: Seed) -> dict[str, list[tuple[Any, ...]]]:
    """Every repository row, all columns (resource contents included): for "changes nothing"."""
    return await table_rows(seed, REPOSITORY_MODELS)


def rows(deployments: int, resources: int, processes: int, decisions: int) -> dict[str, int]:
    return {
        "deployments": deployments,
        "deployment_resources": resources,
        "process_definitions": processes,
        "decision_definitions": decisions,
    }


async def stored(
    seed: Seed, client: httpx.AsyncClient | None = None, admin: Headers | None = None
) -> dict[str, int]:
    """Rows per repository table, read in the system context (not through the API). With
    `client` and `admin`, also checks that the admin's /count endpoints say the same."""
    async with seed() as session:
        found = {
            m.__tablename__: int(await session.scalar(select(func.count()).select_from(m)) or 0)
            for m in REPOSITORY_MODELS
        }
    if client is not None and admin is not None:
        for path, table in (
            ("/deployment", "deployments"),
            ("/process-definition", "process_definitions"),
            ("/decision-definition", "decision_definitions"),
        ):
            counted = await client.get(f"{path}/count", headers=admin)
            assert counted.json() == {"count": found[table]}, path
    return found
