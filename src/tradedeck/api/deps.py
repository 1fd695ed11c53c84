"""Dependencies shared by the routers: the service container and the calling actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tradedeck.api.errors import error_body
from tradedeck.domain.roles import Actor
from tradedeck.services import Services

_bearer = HTTPBearer(auto_error=False, description="API token from `tradedeck users add`")


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_actor(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None:
        raise HTTPException(
            401,
            detail=error_body(
                "unauthorized", "send an API token as 'Authorization: Bearer <token>'"
            ),
            headers={"WWW-Authenticate": "Bearer"},
        )
    actor = await services.users.authenticate(credentials.credentials)
    if actor is None:
        raise HTTPException(
            401,
            detail=error_body("unauthorized", "the API token is unknown or revoked"),
            headers={"WWW-Authenticate": "Bearer"},
        )
    return actor


ActorDep = Annotated[Actor, Depends(get_actor)]
