"""Pairing: a web page asks for access, the user approves on Scanlet's own consent page.

The page posts its wish (scopes) and gets back a short code, a consent URL and a poll secret.
It opens the consent URL on a user gesture; the consent page, served by Scanlet on its own
origin and never inside a frame, shows the exact origin, the scopes and the same code. When the
user allows, Scanlet issues a token bound to that origin; the page collects it once with its
poll secret, from the same origin. Origins an admin allowed get their token at once.

Requests live in memory only: a restart simply asks the page to pair again.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from scanlet.errors import (
    PairingDenied,
    PairingDisabled,
    PairingExpired,
    PairingNotFound,
    RateLimited,
    TokenOriginMismatch,
)
from scanlet.security.access import WEB_SCOPES, AccessStore, Grant, check_scopes, hash_secret
from scanlet.security.ratelimit import RateLimiter

REQUEST_TTL = 300.0
MAX_PENDING = 50


@dataclass
class PairRequest:
    """One pending (or decided) pairing request."""

    id: str
    origin: str
    scopes: frozenset[str]
    app_name: str
    code: str
    secret_hash: str
    nonce: str  # proves a decision came from the consent page Scanlet served
    expires: float
    status: str = "pending"  # pending | approved | denied | collected
    token: str | None = field(default=None, repr=False)
    grant: Grant | None = None


@dataclass(frozen=True)
class PairOutcome:
    """What the requesting page gets back."""

    request: PairRequest
    secret: str | None = None  # poll secret (pending requests)
    token: str | None = None  # the token (pre-approved origins)


def _code() -> str:
    number = f"{secrets.randbelow(10**6):06d}"
    return f"{number[:3]} {number[3:]}"


class PairingBroker:
    """Keeps pairing requests and turns approvals into tokens."""

    def __init__(self, store: AccessStore, *, enabled: bool, token_days: int,
                 config_origins: tuple[str, ...], per_minute: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.enabled = enabled
        self.token_days = token_days
        self.config_origins = config_origins
        self._clock = clock
        self._limiter = RateLimiter(per_minute, clock=clock)
        self._requests: dict[str, PairRequest] = {}
        self._per_minute = per_minute

    def allowed_scopes(self, origin: str) -> frozenset[str] | None:
        """Scopes an admin pre-approved for ``origin`` (config or ``scanlet sites allow``)."""
        if origin in self.config_origins:
            return frozenset(WEB_SCOPES)
        site = self.store.allowed_site(origin)
        return site.scopes if site else None

    def request(self, origin: str, scopes: list[str], app_name: str = "") -> PairOutcome:
        """Start pairing for ``origin``; pre-approved origins get a token right away."""
        wanted = check_scopes(scopes)
        preapproved = self.allowed_scopes(origin)
        if preapproved is not None and wanted <= preapproved:
            token, grant = self.store.issue_token(origin, wanted, self.token_days, via="allowed")
            done = PairRequest(grant.id, origin, wanted, app_name, "", "", "", 0.0,
                               status="collected", grant=grant)
            return PairOutcome(done, token=token)
        if not self.enabled:
            raise PairingDisabled(origin=origin)
        if self._per_minute == 0:
            raise PairingDisabled("pairing requests are turned off ([limits] "
                                  "pair_requests_per_minute = 0)", origin=origin)
        wait = self._limiter.take(origin)
        if wait:
            raise RateLimited("too many pairing requests from this origin",
                              retry_after=max(1, round(wait)))
        self._expire()
        for old in [r for r in self._requests.values()
                    if r.origin == origin and r.status == "pending"]:
            del self._requests[old.id]  # one pending request per origin: the newest
        if len(self._requests) >= MAX_PENDING:
            raise RateLimited("too many pairing requests are waiting", retry_after=30)
        secret = secrets.token_urlsafe(24)
        request = PairRequest(secrets.token_urlsafe(16), origin, wanted, app_name[:80], _code(),
                              hash_secret(secret), secrets.token_urlsafe(24),
                              self._clock() + REQUEST_TTL)
        self._requests[request.id] = request
        return PairOutcome(request, secret=secret)

    def _expire(self) -> None:
        now = self._clock()
        for rid in [r.id for r in self._requests.values() if r.expires <= now]:
            del self._requests[rid]

    def get(self, request_id: str) -> PairRequest:
        self._expire()
        request = self._requests.get(request_id)
        if request is None:
            raise PairingNotFound()
        return request

    def decide(self, request_id: str, nonce: str, allow: bool) -> PairRequest:
        """The user's decision on the consent page."""
        request = self.get(request_id)
        if not secrets.compare_digest(request.nonce, nonce) or request.status != "pending":
            raise PairingNotFound("this consent page is stale; ask the site to pair again")
        if allow:
            request.token, request.grant = self.store.issue_token(
                request.origin, request.scopes, self.token_days)
            request.status = "approved"
        else:
            request.status = "denied"
        return request

    def now(self) -> float:
        return self._clock()

    def collect(self, request_id: str, origin: str, secret: str) -> tuple[PairRequest, str | None]:
        """The page polls: (request, None) while pending, the token once, or an error."""
        request = self.get(request_id)
        if not secrets.compare_digest(request.secret_hash, hash_secret(secret)):
            raise PairingNotFound()
        if request.origin != origin:
            raise TokenOriginMismatch("this pairing request belongs to another origin")
        if request.status == "denied":
            del self._requests[request.id]
            raise PairingDenied(origin=origin)
        if request.status == "collected":
            raise PairingExpired()
        if request.status == "approved":
            token, request.token = request.token, None
            request.status = "collected"
            return request, token
        return request, None
