"""`/group`: groups and their members (Camunda 7 REST shapes), and `/identity/groups`.

Admins manage groups; a user reads the groups it belongs to (F4).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from app.api.deps import PageDep, SessionDep, SortingDep
from app.api.paths import IdentifierPath, comma_list
from app.api.responses import ADMIN_WRITE, AUTHENTICATED, READ_ONE
from app.core.identifiers import IDENTIFIER_PATTERN
from app.schemas.base import CountResult
from app.schemas.identity import (
    GroupCreate,
    GroupRead,
    GroupUpdate,
    IdentityGroup,
    IdentityGroups,
    IdentityGroupUser,
)
from app.services import groups
from app.services.groups import GroupFilter

router = APIRouter(prefix="/group", tags=["Group"])
identity_router = APIRouter(prefix="/identity", tags=["Identity"])


def group_filter(
    id: str | None = None,
    idIn: str | None = None,
    name: str | None = None,
    nameLike: str | None = None,
    type: str | None = None,
    member: str | None = None,
    memberOfTenant: str | None = None,
) -> GroupFilter:
    return GroupFilter(
        id=id,
        id_in=comma_list(idIn),
        name=name,
        name_like=nameLike,
        type=type,
        member=member,
        member_of_tenant=memberOfTenant,
    )


FilterDep = Annotated[GroupFilter, Depends(group_filter)]


@router.get("", response_model=list[GroupRead], responses=AUTHENTICATED)
async def list_groups(
    session: SessionDep,
    filters: FilterDep,
    sorting: SortingDep,
    page: PageDep,
) -> list[GroupRead]:
    rows = await groups.list_groups(session, filters=filters, sorting=sorting, page=page)
    return [GroupRead.model_validate(g) for g in rows]


@router.get("/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_groups(session: SessionDep, filters: FilterDep) -> CountResult:
    return CountResult(count=await groups.count_groups(session, filters=filters))


@router.post("/create", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE)
async def create_group(body: GroupCreate, session: SessionDep) -> Response:
    await groups.create_group(session, group_id=body.id, name=body.name, type_=body.type)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{id}", response_model=GroupRead, responses=READ_ONE)
async def get_group(
    id: IdentifierPath,
    session: SessionDep,
) -> GroupRead:
    return GroupRead.model_validate(await groups.get_group(session, id))


@router.put("/{id}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE)
async def update_group(
    id: IdentifierPath,
    body: GroupUpdate,
    session: SessionDep,
) -> Response:
    await groups.update_group(session, id, body_id=body.id, name=body.name, type_=body.type)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{id}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE)
async def delete_group(
    id: IdentifierPath,
    session: SessionDep,
) -> Response:
    await groups.delete_group(session, id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{id}/members/{userId}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE)
async def add_member(
    id: IdentifierPath,
    userId: IdentifierPath,
    session: SessionDep,
) -> Response:
    await groups.add_member(session, id, userId)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/{id}/members/{userId}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE
)
async def remove_member(
    id: IdentifierPath,
    userId: IdentifierPath,
    session: SessionDep,
) -> Response:
    await groups.remove_member(session, id, userId)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@identity_router.get("/groups", response_model=IdentityGroups, responses=READ_ONE)
async def groups_of_user(
    session: SessionDep,
    userId: Annotated[str, Query(pattern=IDENTIFIER_PATTERN)],
) -> IdentityGroups:
    found, members = await groups.groups_of_user_with_members(session, userId)
    return IdentityGroups(
        groups=[IdentityGroup.model_validate(g) for g in found],
        group_users=[
            IdentityGroupUser(
                id=u.id,
                first_name=u.first_name,
                last_name=u.last_name,
                display_name=" ".join(p for p in (u.first_name, u.last_name) if p) or u.id,
            )
            for u in members
        ],
    )
