"""Bearer-token checks inside the routes (the middleware in security.py applies the same policy to
every route first): writes need FOLLOWUP_API_TOKEN when it is set; reads too with
FOLLOWUP_API_PROTECT_READS. A browser that logged in at /login carries a cookie derived from the token."""

from __future__ import annotations

from fastapi import HTTPException, Request

from .security import is_authorized


def _check(request: Request) -> None:
    token = request.app.state.settings.api_token
    if not is_authorized(token, request.headers.get("authorization", ""), request.headers.get("cookie", "")):
        raise HTTPException(401, "This needs the API token: send the header Authorization: Bearer <FOLLOWUP_API_TOKEN>",
                            headers={"WWW-Authenticate": "Bearer"})


def require_write(request: Request) -> None:
    _check(request)


def require_read(request: Request) -> None:
    if request.app.state.settings.api_protect_reads:
        _check(request)
