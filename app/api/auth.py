"""`/auth/token`: OAuth2 password sign-in returning a bearer JWT (used by /docs' Authorize)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from app.api.deps import RedisDep, SessionDep, SettingsDep
from app.api.responses import problems
from app.schemas.identity import Token
from app.services.auth import sign_in

router = APIRouter(prefix="/auth", tags=["Auth"])


@router.post("/token", response_model=Token, responses=problems(400, 401, 429))
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    redis: RedisDep,
    settings: SettingsDep,
) -> Token:
    token, lifetime = await sign_in(
        session, redis, settings=settings, user_id=form.username, password=form.password
    )
    return Token(access_token=token, expires_in=lifetime)
