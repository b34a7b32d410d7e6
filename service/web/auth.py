"""Bearer-token checks: writes need FOLLOWUP_API_TOKEN when it is set; reads too with
FOLLOWUP_API_PROTECT_READS. No token set (the default, on localhost): open."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request


def _check(request: Request) -> None:
    token = request.app.state.settings.api_token
    if not token:
        return
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        raise HTTPException(401, "This needs the API token: send the header Authorization: Bearer <FOLLOWUP_API_TOKEN>",
                            headers={"WWW-Authenticate": "Bearer"})


def require_write(request: Request) -> None:
    _check(request)


def require_read(request: Request) -> None:
    if request.app.state.settings.api_protect_reads:
        _check(request)
