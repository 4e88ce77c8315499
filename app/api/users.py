"""`/user`: users, their profiles and credentials (Camunda 7 REST shapes).

Admins manage users; a user reads its own profile and changes its own password (F4).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from app.api.deps import PageDep, SessionDep, SortingDep
from app.api.paths import IdentifierPath, comma_list
from app.api.responses import ADMIN_WRITE, AUTHENTICATED, READ_ONE
from app.schemas.base import CountResult
from app.schemas.identity import CredentialsUpdate, UserCreate, UserProfileRead, UserProfileUpdate
from app.services import users
from app.services.users import UserFilter

router = APIRouter(prefix="/user", tags=["User"])


def user_filter(
    id: str | None = None,
    idIn: str | None = None,
    firstName: str | None = None,
    firstNameLike: str | None = None,
    lastName: str | None = None,
    lastNameLike: str | None = None,
    email: str | None = None,
    emailLike: str | None = None,
    memberOfGroup: str | None = None,
    memberOfTenant: str | None = None,
) -> UserFilter:
    return UserFilter(
        id=id,
        id_in=comma_list(idIn),
        first_name=firstName,
        first_name_like=firstNameLike,
        last_name=lastName,
        last_name_like=lastNameLike,
        email=email,
        email_like=emailLike,
        member_of_group=memberOfGroup,
        member_of_tenant=memberOfTenant,
    )


FilterDep = Annotated[UserFilter, Depends(user_filter)]


@router.get("", response_model=list[UserProfileRead], responses=AUTHENTICATED)
async def list_users(
    session: SessionDep,
    filters: FilterDep,
    sorting: SortingDep,
    page: PageDep,
) -> list[UserProfileRead]:
    rows = await users.list_users(session, filters=filters, sorting=sorting, page=page)
    return [UserProfileRead.model_validate(u) for u in rows]


@router.get("/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_users(session: SessionDep, filters: FilterDep) -> CountResult:
    return CountResult(count=await users.count_users(session, filters=filters))


@router.post("/create", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE)
async def create_user(body: UserCreate, session: SessionDep) -> Response:
    await users.create_user(
        session,
        user_id=body.profile.id,
        first_name=body.profile.first_name,
        last_name=body.profile.last_name,
        email=body.profile.email,
        password=body.credentials.password if body.credentials else None,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{id}/profile", response_model=UserProfileRead, responses=READ_ONE)
async def get_profile(
    id: IdentifierPath,
    session: SessionDep,
) -> UserProfileRead:
    return UserProfileRead.model_validate(await users.get_user(session, id))


@router.put("/{id}/profile", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE)
async def update_profile(
    id: IdentifierPath,
    body: UserProfileUpdate,
    session: SessionDep,
) -> Response:
    await users.update_profile(
        session,
        id,
        body_id=body.id,
        first_name=body.first_name,
        last_name=body.last_name,
        email=body.email,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{id}/credentials", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE)
async def update_credentials(
    id: IdentifierPath,
    body: CredentialsUpdate,
    session: SessionDep,
) -> Response:
    await users.update_credentials(
        session,
        id,
        password=body.password,
        authenticated_user_password=body.authenticated_user_password,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{id}", status_code=status.HTTP_204_NO_CONTENT, responses=ADMIN_WRITE)
async def delete_user(
    id: IdentifierPath,
    session: SessionDep,
) -> Response:
    await users.delete_user(session, id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
