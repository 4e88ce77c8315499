"""`/tenant`: tenants and their user/group members (Camunda 7 REST shapes).

Admins manage tenants; any user reads the tenants it belongs to (F4).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from app.api.deps import CurrentPrincipal, PageDep, SessionDep, SortingDep
from app.api.paths import IdentifierPath, comma_list
from app.api.responses import ADMIN_WRITE, AUTHENTICATED, READ_ONE
from app.schemas.base import CountResult
from app.schemas.identity import TenantCreate, TenantRead, TenantUpdate
from app.services import identity
from app.services.identity import TenantFilter

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
    principal: CurrentPrincipal,
    filters: FilterDep,
    sorting: SortingDep,
    page: PageDep,
) -> list[TenantRead]:
    tenants = await identity.list_tenants(
        session, principal, filters=filters, sorting=sorting, page=page
    )
    return [TenantRead.model_validate(t) for t in tenants]


@router.get("/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_tenants(
    session: SessionDep, principal: CurrentPrincipal, filters: FilterDep
) -> CountResult:
    return CountResult(count=await identity.count_tenants(session, principal, filters=filters))


@router.post("/create", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE)
async def create_tenant(
    body: TenantCreate, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await identity.create_tenant(session, principal, tenant_id=body.id, name=body.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{id}", response_model=TenantRead, responses=READ_ONE)
async def get_tenant(
    id: IdentifierPath,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> TenantRead:
    return TenantRead.model_validate(await identity.get_tenant(session, principal, id))


@router.put("/{id}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE)
async def update_tenant(
    id: IdentifierPath,
    body: TenantUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Response:
    await identity.update_tenant(session, principal, id, body_id=body.id, name=body.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{id}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE)
async def delete_tenant(
    id: IdentifierPath,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Response:
    await identity.delete_tenant(session, principal, id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/{id}/user-members/{userId}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE
)
async def add_user_member(
    id: IdentifierPath,
    userId: IdentifierPath,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Response:
    await identity.add_tenant_user(session, principal, id, userId)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/{id}/user-members/{userId}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE
)
async def remove_user_member(
    id: IdentifierPath,
    userId: IdentifierPath,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Response:
    await identity.remove_tenant_user(session, principal, id, userId)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/{id}/group-members/{groupId}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE
)
async def add_group_member(
    id: IdentifierPath,
    groupId: IdentifierPath,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Response:
    await identity.add_tenant_group(session, principal, id, groupId)
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
    principal: CurrentPrincipal,
) -> Response:
    await identity.remove_tenant_group(session, principal, id, groupId)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
