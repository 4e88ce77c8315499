"""`/deployment`: upload BPMN/DMN models (files or a .zip/.bar archive), list, read,
download, delete and redeploy them (Camunda 7 REST shapes).

A deployment with `tenant-id` belongs to that tenant (the caller must be a member, B5);
without it, it is shared and only admins may create it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from starlette.datastructures import UploadFile

from app.api.deps import PageDep, SessionDep, SettingsDep, SortingDep
from app.api.paths import comma_list
from app.api.responses import AUTHENTICATED, READ_ONE, problems
from app.core.errors import BadRequest, PayloadTooLarge
from app.core.filters import TenantSelector
from app.core.identifiers import check_identifier
from app.core.uploads import UploadLimits, extract_archive, is_archive, read_upload_file
from app.schemas.base import CountResult
from app.schemas.repository import (
    DecisionDefinitionRead,
    DeploymentRead,
    DeploymentWithDefinitions,
    ProcessDefinitionRead,
    RedeployRequest,
    ResourceRead,
)
from app.services import deployments
from app.services.deployments import DeploymentFilter, DeploymentResult, UploadedResource

router = APIRouter(prefix="/deployment", tags=["Deployment"])

_FORM_FIELDS = {
    "deployment-name",
    "deployment-source",
    "tenant-id",
    "enable-duplicate-filtering",
    "deploy-changed-only",
}


def deployment_filter(
    id: str | None = None,
    name: str | None = None,
    nameLike: str | None = None,
    source: str | None = None,
    withoutSource: bool = False,
    tenantIdIn: str | None = None,
    withoutTenantId: bool = False,
    includeDeploymentsWithoutTenantId: bool = False,
) -> DeploymentFilter:
    return DeploymentFilter(
        id=id,
        name=name,
        name_like=nameLike,
        source=source,
        without_source=withoutSource,
        tenants=TenantSelector(
            comma_list(tenantIdIn), withoutTenantId, includeDeploymentsWithoutTenantId
        ),
    )


FilterDep = Annotated[DeploymentFilter, Depends(deployment_filter)]


@router.post(
    "/create",
    response_model=DeploymentWithDefinitions,
    responses=problems(400, 401, 403, 413),
)
async def create_deployment(
    request: Request, session: SessionDep, settings: SettingsDep
) -> DeploymentWithDefinitions:
    """Multipart form: `deployment-name`, `deployment-source`, `tenant-id`,
    `enable-duplicate-filtering`, `deploy-changed-only`, and one or more files (any field
    name) — `.bpmn`, `.dmn`, or a `.zip`/`.bar` archive of them."""
    limits = settings.upload_limits()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_upload_bytes + 65536:
        raise PayloadTooLarge(f"The upload exceeds {limits.max_upload_bytes} bytes.")
    async with request.form(max_files=limits.max_archive_entries, max_fields=50) as form:
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        unknown = set(fields) - _FORM_FIELDS
        if unknown:
            raise BadRequest(f"Unknown form fields: {', '.join(sorted(unknown))}.")
        files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
        resources = await _resources(files, limits)
    tenant_id = fields.get("tenant-id") or None
    if tenant_id is not None:
        check_identifier("Tenant", tenant_id)
    result = await deployments.create_deployment(
        session,
        name=fields.get("deployment-name"),
        source=fields.get("deployment-source"),
        tenant_id=tenant_id,
        resources=resources,
        duplicate_filtering=_flag(fields, "enable-duplicate-filtering"),
        deploy_changed_only=_flag(fields, "deploy-changed-only"),
    )
    return _with_definitions(result)


async def _resources(files: list[UploadFile], limits: UploadLimits) -> list[UploadedResource]:
    resources: list[UploadedResource] = []
    total = 0
    for upload in files:
        name = upload.filename or ""
        data = await read_upload_file(upload, limits=limits)
        total += len(data)
        if total > limits.max_upload_bytes:
            raise PayloadTooLarge(f"The upload exceeds {limits.max_upload_bytes} bytes.")
        if is_archive(name):
            entries = extract_archive(data, filename=name, limits=limits)
            resources.extend(UploadedResource(n, content) for n, content in entries)
        else:
            resources.append(UploadedResource(name, data))
    return resources


def _flag(fields: dict[str, str], name: str) -> bool:
    value = fields.get(name, "false").strip().lower()
    if value not in ("true", "false"):
        raise BadRequest(f"{name} must be true or false.")
    return value == "true"


def _with_definitions(result: DeploymentResult) -> DeploymentWithDefinitions:
    processes = {d.id: ProcessDefinitionRead.model_validate(d) for d in result.process_definitions}
    decisions = {
        d.id: DecisionDefinitionRead.model_validate(d) for d in result.decision_definitions
    }
    return DeploymentWithDefinitions(
        **DeploymentRead.model_validate(result.deployment).model_dump(),
        deployed_process_definitions=processes or None,
        deployed_decision_definitions=decisions or None,
    )


@router.get("", response_model=list[DeploymentRead], responses=AUTHENTICATED)
async def list_deployments(
    session: SessionDep,
    filters: FilterDep,
    sorting: SortingDep,
    page: PageDep,
) -> list[DeploymentRead]:
    rows = await deployments.list_deployments(session, filters=filters, sorting=sorting, page=page)
    return [DeploymentRead.model_validate(d) for d in rows]


@router.get("/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_deployments(session: SessionDep, filters: FilterDep) -> CountResult:
    return CountResult(count=await deployments.count_deployments(session, filters=filters))


@router.get("/{id}", response_model=DeploymentRead, responses=READ_ONE)
async def get_deployment(
    id: str,
    session: SessionDep,
) -> DeploymentRead:
    return DeploymentRead.model_validate(await deployments.get_deployment(session, id))


@router.get("/{id}/resources", response_model=list[ResourceRead], responses=READ_ONE)
async def list_resources(
    id: str,
    session: SessionDep,
) -> list[ResourceRead]:
    return [ResourceRead.model_validate(r) for r in await deployments.list_resources(session, id)]


@router.get("/{id}/resources/{resourceId}", response_model=ResourceRead, responses=READ_ONE)
async def get_resource(
    id: str,
    resourceId: str,
    session: SessionDep,
) -> ResourceRead:
    return ResourceRead.model_validate(await deployments.get_resource(session, id, resourceId))


@router.get("/{id}/resources/{resourceId}/data", responses=READ_ONE)
async def get_resource_data(
    id: str,
    resourceId: str,
    session: SessionDep,
) -> Response:
    resource = await deployments.get_resource(session, id, resourceId)
    media_type = (
        "application/xml"
        if resource.name.endswith((".bpmn", ".dmn", ".xml"))
        else ("application/octet-stream")
    )
    return Response(
        resource.content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{_safe_name(resource.name)}"'},
    )


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name.rsplit("/", 1)[-1])


@router.delete(
    "/{id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(401, 403, 404, 409)
)
async def delete_deployment(
    id: str,
    session: SessionDep,
    cascade: bool = False,
) -> Response:
    """409 while instances of its definitions run, unless `cascade` (which also deletes them
    and the definitions' history)."""
    await deployments.delete_deployment(session, id, cascade=cascade)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{id}/redeploy",
    response_model=DeploymentWithDefinitions,
    responses=problems(400, 401, 403, 404, 422),
)
async def redeploy(
    id: str,
    body: RedeployRequest,
    session: SessionDep,
) -> DeploymentWithDefinitions:
    result = await deployments.redeploy(
        session,
        id,
        resource_ids=body.resource_ids,
        resource_names=body.resource_names,
        source=body.source,
    )
    return _with_definitions(result)
