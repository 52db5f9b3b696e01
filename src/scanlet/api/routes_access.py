"""Who may use this Scanlet, over HTTP (scope ``admin``): paired and allowed sites, API keys.

The same operations as ``scanlet sites ...`` and ``scanlet keys ...`` (cli_access.py), on the
same :class:`~scanlet.security.access.AccessStore`, for Scanlet's own ``/admin`` page and for
native clients holding an API key with the ``admin`` scope. Web pages of other origins never
get that scope, so they cannot reach these routes. Secrets are never listed: the store keeps
only hashes, and a new API key is shown once, in the answer that creates it.

A revocation takes effect on the very next request (every request reads the store).
The CLI's own key (``scanlet-cli``) cannot be revoked here, so that the admin cannot lock the
CLI out through the API.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from scanlet.core.deps import runtime
from scanlet.core.runtime import Runtime
from scanlet.errors import InvalidSetting, NotFound
from scanlet.security.access import (
    ALL_SCOPES,
    CLI_KEY_NAME,
    WEB_SCOPES,
    ApiKey,
    Grant,
    check_scopes,
)
from scanlet.security.origins import require_origin

router = APIRouter(prefix="/v1", tags=["access"])
Rt = Annotated[Runtime, Depends(runtime)]

Scope = Literal["scan", "camera", "upload", "files", "admin"]


def _time(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


# Sites ----------------------------------------------------------------------------------


class SiteToken(BaseModel):
    """One token a site holds (its id, never the token itself)."""

    id: str = Field(description="The grant's id (not the token)")
    scopes: list[str]
    via: Literal["pairing", "allowed"] = Field(
        description="`pairing`: the user approved on the consent page; `allowed`: handed out "
                    "without a prompt because an admin allowed the origin")
    created: datetime
    expires: datetime


class SiteInfo(BaseModel):
    """A web origin that may use Scanlet: paired by the user and/or allowed by an admin."""

    origin: str = Field(description="Canonical origin, e.g. `https://app.example.com`")
    paired: bool = Field(description="Holds a live token the user approved (pairing)")
    allowed_by: Literal["config", "admin"] | None = Field(
        description="`config`: `[security] allowed_origins` (removed only in scanlet.ini); "
                    "`admin`: `scanlet sites allow`; null: paired only")
    allowed_scopes: list[str] = Field(
        description="Scopes the origin gets without a prompt (empty when not pre-approved)")
    scopes: list[str] = Field(description="Every scope it holds or is allowed")
    tokens: list[SiteToken] = Field(description="Live (unexpired) tokens, oldest first")
    created: datetime | None = Field(
        description="When it was first allowed or paired (null: only in the config)")
    token_expires: datetime | None = Field(description="When its last token expires")
    revocable: bool = Field(
        description="DELETE would remove something (tokens or an admin allowance); false for "
                    "an origin only listed in scanlet.ini")


@router.get("/sites", summary="Sites allowed to use Scanlet: paired, admin-allowed, configured")
def list_sites(rt: Rt) -> list[SiteInfo]:
    store = rt.access
    tokens: dict[str, list[Grant]] = defaultdict(list)
    for grant in store.grants():
        tokens[grant.origin].append(grant)
    sites = []
    for summary in store.sites(rt.settings.allowed_origins):
        grants = tokens.get(summary.origin, [])
        allowed = store.allowed_site(summary.origin) if summary.allowed_by == "admin" else None
        allowed_scopes = (allowed.scopes if allowed is not None else
                          frozenset(WEB_SCOPES) if summary.allowed_by == "config" else frozenset())
        created = [g.created for g in grants] + ([allowed.created] if allowed else [])
        sites.append(SiteInfo(
            origin=summary.origin,
            paired=any(g.via == "pairing" for g in grants),
            allowed_by="config" if summary.allowed_by == "config" else
            "admin" if summary.allowed_by == "admin" else None,
            allowed_scopes=sorted(allowed_scopes),
            scopes=sorted(summary.scopes),
            tokens=[SiteToken(id=g.id, scopes=sorted(g.scopes),
                              via="allowed" if g.via == "allowed" else "pairing",
                              created=_time(g.created), expires=_time(g.expires))
                    for g in grants],
            created=_time(min(created)) if created else None,
            token_expires=_time(summary.expires) if summary.expires is not None else None,
            revocable=bool(grants) or allowed is not None,
        ))
    return sites


@router.delete("/sites/{origin:path}", status_code=204,
               summary="Revoke a site: every token of the origin and its admin allowance")
def revoke_site(origin: str, rt: Rt) -> Response:
    """``origin`` is the exact origin, URL-encoded (``encodeURIComponent``), e.g.
    ``/v1/sites/https%3A%2F%2Fapp.example.com``. Its tokens stop working at once. Origins
    listed in ``[security] allowed_origins`` stay allowed: they are removed in scanlet.ini."""
    canonical = require_origin(origin)
    if not rt.access.revoke_site(canonical):
        raise NotFound(f"{canonical} has no tokens and is not allowed by an admin (sites in "
                       "scanlet.ini are removed there)", origin=canonical)
    return Response(status_code=204)


# API keys -------------------------------------------------------------------------------


class KeyInfo(BaseModel):
    """An API key of a native client (never the key itself: only its hash is kept)."""

    id: str
    name: str
    scopes: list[str]
    created: datetime
    cli: bool = Field(description="The CLI's own key (`scanlet-cli`); it cannot be revoked "
                                  "through the API")


class NewKey(KeyInfo):
    key: str = Field(description="The key (`slk_…`), shown only in this answer; send it as "
                                 "`Authorization: Bearer`")


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$",
                      description="A unique name to recognise the key by")
    scopes: list[Scope] = Field(default=["scan"], min_length=1, max_length=len(ALL_SCOPES))


def _key_info(key: ApiKey) -> KeyInfo:
    return KeyInfo(id=key.id, name=key.name, scopes=sorted(key.scopes),
                   created=_time(key.created), cli=key.name == CLI_KEY_NAME)


@router.get("/keys", summary="API keys of native clients (never the keys themselves)")
def list_keys(rt: Rt) -> list[KeyInfo]:
    return [_key_info(key) for key in rt.access.api_keys()]


@router.post("/keys", status_code=201,
             summary="Create an API key; the answer shows it once, only its hash is kept")
def create_key(body: KeyCreate, rt: Rt) -> NewKey:
    """A name already in use is 422 ``invalid_setting`` (``field: name``)."""
    secret, info = rt.access.create_key(body.name, check_scopes(body.scopes, ALL_SCOPES))
    return NewKey(**_key_info(info).model_dump(), key=secret)


@router.delete("/keys/{key_id}", status_code=204, summary="Revoke an API key")
def revoke_key(key_id: str, rt: Rt) -> Response:
    """``key_id`` is the key's id (or, as in ``scanlet keys revoke``, its name). The CLI's own
    key is refused (422 ``invalid_setting``), so the CLI cannot be locked out."""
    matches = [k for k in rt.access.api_keys() if key_id in (k.id, k.name)]
    if not matches:
        raise NotFound(f"no API key with id or name {key_id[:100]!r}", id=key_id[:100])
    if any(k.name == CLI_KEY_NAME for k in matches):
        raise InvalidSetting(f"this is the CLI's own key ({CLI_KEY_NAME}); it cannot be "
                             "revoked through the API, which would lock the CLI out (to "
                             "replace it, delete keys/cli.key: the CLI makes a new one)",
                             field="id")
    rt.access.revoke_key(key_id)
    return Response(status_code=204)
