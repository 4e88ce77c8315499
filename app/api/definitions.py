"""`/process-definition` and `/decision-definition`: query definitions, read one by id or
by key (the effective definition for the caller's tenant, B7), and fetch its XML.

Both resources share one implementation (`definition_router`; no `from __future__ import
annotations` here, so that FastAPI sees its locally built dependencies); they differ in Camunda's
parameter names and response shapes only.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import PageDep, SessionDep, SortingDep
from app.api.paths import IdentifierPath, comma_list
from app.api.responses import AUTHENTICATED, READ_ONE, problems
from app.core.filters import TenantSelector
from app.schemas.base import CountResult
from app.schemas.repository import (
    DecisionDefinitionRead,
    DecisionDefinitionXml,
    ProcessDefinitionRead,
    ProcessDefinitionXml,
)
from app.services import definitions
from app.services.definitions import Definition, DefinitionFilter

BY_KEY = problems(400, 401, 403, 404)


def _filter_dependency(id_param: str, include_shared_param: str) -> Any:
    """Camunda names the id and "include shared" parameters after the resource."""

    def dependency(
        definition_id: Annotated[str | None, Query(alias=id_param)] = None,
        definition_id_in: Annotated[str | None, Query(alias=f"{id_param}In")] = None,
        key: str | None = None,
        keyLike: str | None = None,
        name: str | None = None,
        nameLike: str | None = None,
        version: int | None = None,
        versionTag: str | None = None,
        latestVersion: bool = False,
        deploymentId: str | None = None,
        resourceName: str | None = None,
        tenantIdIn: str | None = None,
        withoutTenantId: bool = False,
        include_shared: Annotated[bool, Query(alias=include_shared_param)] = False,
    ) -> DefinitionFilter:
        return DefinitionFilter(
            id=definition_id,
            id_in=comma_list(definition_id_in),
            key=key,
            key_like=keyLike,
            name=name,
            name_like=nameLike,
            version=version,
            version_tag=versionTag,
            latest_version=latestVersion,
            deployment_id=deploymentId,
            resource_name=resourceName,
            tenants=TenantSelector(comma_list(tenantIdIn), withoutTenantId, include_shared),
        )

    return dependency


def definition_router(
    *,
    prefix: str,
    tag: str,
    model: type[Definition],
    read: type[ProcessDefinitionRead] | type[DecisionDefinitionRead],
    xml: type[ProcessDefinitionXml] | type[DecisionDefinitionXml],
    id_param: str,
    include_shared_param: str,
) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=[tag])
    FilterDep = Annotated[
        DefinitionFilter, Depends(_filter_dependency(id_param, include_shared_param))
    ]

    async def xml_of(session: AsyncSession, definition: Definition) -> Any:
        """The `{id, bpmn20Xml}` / `{id, dmnXml}` body of one definition."""
        field = "bpmn20_xml" if xml is ProcessDefinitionXml else "dmn_xml"
        content = await definitions.definition_xml(session, definition)
        return xml.model_validate({"id": definition.id, field: content})

    @router.get("", response_model=list[read], responses=AUTHENTICATED)  # type: ignore[valid-type]
    async def list_definitions(
        session: SessionDep,
        filters: FilterDep,
        sorting: SortingDep,
        page: PageDep,
    ) -> list[Any]:
        rows = await definitions.list_definitions(
            session, model, filters=filters, sorting=sorting, page=page
        )
        return [read.model_validate(r) for r in rows]

    @router.get("/count", response_model=CountResult, responses=AUTHENTICATED)
    async def count_definitions(session: SessionDep, filters: FilterDep) -> CountResult:
        return CountResult(
            count=await definitions.count_definitions(session, model, filters=filters)
        )

    @router.get("/key/{key}", response_model=read, responses=BY_KEY)
    async def get_by_key(key: str, session: SessionDep, withoutTenantId: bool = False) -> Any:
        found = await definitions.resolve_effective(
            session, model, key, without_tenant=withoutTenantId
        )
        return read.model_validate(found)

    @router.get("/key/{key}/tenant-id/{tenantId}", response_model=read, responses=BY_KEY)
    async def get_by_key_and_tenant(key: str, tenantId: IdentifierPath, session: SessionDep) -> Any:
        found = await definitions.resolve_effective(session, model, key, tenant_id=tenantId)
        return read.model_validate(found)

    @router.get("/key/{key}/xml", response_model=xml, responses=BY_KEY)
    async def get_xml_by_key(key: str, session: SessionDep, withoutTenantId: bool = False) -> Any:
        found = await definitions.resolve_effective(
            session, model, key, without_tenant=withoutTenantId
        )
        return await xml_of(session, found)

    @router.get("/key/{key}/tenant-id/{tenantId}/xml", response_model=xml, responses=BY_KEY)
    async def get_xml_by_key_and_tenant(
        key: str, tenantId: IdentifierPath, session: SessionDep
    ) -> Any:
        found = await definitions.resolve_effective(session, model, key, tenant_id=tenantId)
        return await xml_of(session, found)

    @router.get("/{id}", response_model=read, responses=READ_ONE)
    async def get_definition(
        id: str,
        session: SessionDep,
    ) -> Any:
        return read.model_validate(await definitions.get_definition(session, model, id))

    @router.get("/{id}/xml", response_model=xml, responses=READ_ONE)
    async def get_definition_xml(
        id: str,
        session: SessionDep,
    ) -> Any:
        found = await definitions.get_definition(session, model, id)
        return await xml_of(session, found)

    return router


process_router = definition_router(
    prefix="/process-definition",
    tag="Process Definition",
    model=definitions.PROCESS_DEFINITIONS,
    read=ProcessDefinitionRead,
    xml=ProcessDefinitionXml,
    id_param="processDefinitionId",
    include_shared_param="includeProcessDefinitionsWithoutTenantId",
)
decision_router = definition_router(
    prefix="/decision-definition",
    tag="Decision Definition",
    model=definitions.DECISION_DEFINITIONS,
    read=DecisionDefinitionRead,
    xml=DecisionDefinitionXml,
    id_param="decisionDefinitionId",
    include_shared_param="includeDecisionDefinitionsWithoutTenantId",
)
