"""`/tenant`: tenants and their user/group members (Camunda 7 REST shapes).

Admins manage tenants; any user reads the tenants it belongs to (F4).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from app.api.deps import PageDep, SessionDep, SortingDep
from app.api.paths import IdentifierPath, comma_list
from app.api.responses import ADMIN_WRITE, AUTHENTICATED, READ_ONE
from app.schemas.base import CountResult
from app.schemas.identity import TenantCreate, TenantRead, TenantUpdate
from app.services import tenants
from app.services.tenants import TenantFilter

router = APIRouter(prefix="/tenant", tags=["Tenant"])


def tenant_filter(
    id: str | None = None,
    idIn: str | None = None,
    name: str | None = None,
    nameLike: str | None = None,
    userMember: str | None = None,
    groupMember: str | None = None,
    includingGroupsOfUser: bool = False,
) -> TenantFilter:
    return TenantFilter(
        id=id,
        id_in=comma_list(idIn),
        name=name,
        name_like=nameLike,
        user_member=userMember,
        group_member=groupMember,
        including_groups_of_user=includingGroupsOfUser,
    )


FilterDep = Annotated[TenantFilter, Depends(tenant_filter)]


@router.get("", response_model=list[TenantRead], responses=AUTHENTICATED)
async def list_tenants(
    session: SessionDep,
    filters: FilterDep,
    sorting: SortingDep,
    page: PageDep,
) -> list[TenantRead]:
    rows = await tenants.list_tenants(session, filters=filters, sorting=sorting, page=page)
    return [TenantRead.model_validate(t) for t in rows]


@router.get("/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_tenants(session: SessionDep, filters: FilterDep) -> CountResult:
    return CountResult(count=await tenants.count_tenants(session, filters=filters))


@router.post("/create", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE)
async def create_tenant(body: TenantCreate, session: SessionDep) -> Response:
    await tenants.create_tenant(session, tenant_id=body.id, name=body.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{id}", response_model=TenantRead, responses=READ_ONE)
async def get_tenant(
    id: IdentifierPath,
    session: SessionDep,
) -> TenantRead:
    return TenantRead.model_validate(await tenants.get_tenant(session, id))


@router.put("/{id}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE)
async def update_tenant(
    id: IdentifierPath,
    body: TenantUpdate,
    session: SessionDep,
) -> Response:
    await tenants.update_tenant(session, id, body_id=body.id, name=body.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{id}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE)
async def delete_tenant(
    id: IdentifierPath,
    session: SessionDep,
) -> Response:
    await tenants.delete_tenant(session, id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/{id}/user-members/{userId}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE
)
async def add_user_member(
    id: IdentifierPath,
    userId: IdentifierPath,
    session: SessionDep,
) -> Response:
    await tenants.add_user_member(session, id, userId)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/{id}/user-members/{userId}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE
)
async def remove_user_member(
    id: IdentifierPath,
    userId: IdentifierPath,
    session: SessionDep,
) -> Response:
    await tenants.remove_user_member(session, id, userId)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/{id}/group-members/{groupId}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE
)
async def add_group_member(
    id: IdentifierPath,
    groupId: IdentifierPath,
    session: SessionDep,
) -> Response:
    await tenants.add_group_member(session, id, groupId)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/{id}/group-members/{groupId}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=ADMIN_WRITE,
)
async def remove_group_member(
    id: IdentifierPath,
    groupId: IdentifierPath,
    session: SessionDep,
) -> Response:
    await tenants.remove_group_member(session, id, groupId)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
