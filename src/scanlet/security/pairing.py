"""Pairing: a web page asks for access, the user approves on Scanlet's own consent page.

The page posts its wish (scopes) and gets back a short code, a consent URL and a poll secret.
It opens the consent URL on a user gesture; the consent page, served by Scanlet on its own
origin and never inside a frame, shows the exact origin, the scopes and the same code. When the
user allows, Scanlet issues a token bound to that origin; the page collects it once with its
poll secret, from the same origin. Origins an admin allowed get their token at once.

Requests live in memory only: a restart simply asks the page to pair again.

Flooding (issue 14): any page can ask, and one page can ask from as many subdomains as it
likes, so the waiting room is limited per site (registrable domain, ``registrable.site_of``)
as well as in total, requests whose consent page is never opened lapse quickly, and an origin
that already holds a token for the scopes it asks is never refused for a full room (it waits
outside the shared room and has its own rate bucket). The consent page's Allow counts only
a moment after the page was served, so that a double-click on another page cannot land on it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from scanlet.errors import (
    ConsentTooSoon,
    PairingDenied,
    PairingDisabled,
    PairingExpired,
    PairingNotFound,
    RateLimited,
    TokenOriginMismatch,
)
from scanlet.security.access import WEB_SCOPES, AccessStore, Grant, check_scopes, hash_secret
from scanlet.security.ratelimit import RateLimiter
from scanlet.security.registrable import site_of

#: How long a request lives once its consent page was opened, from its start.
REQUEST_TTL = 300.0


@dataclass(frozen=True)
class PairingLimits:
    """How many requests may wait, and for how long (``[limits]``, ``[security]``)."""

    per_minute: int = 5  # per site; 0 = no pairing requests
    max_pending: int = 50  # in the shared room
    max_pending_per_site: int = 3
    unopened_ttl: float = 60.0  # seconds, for a request whose consent page was never opened
    consent_delay: float = 1.0  # seconds between serving the consent page and an Allow


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
    site: str = ""
    reserved: bool = False  # the origin holds a token for these scopes: outside the shared room
    created: float = 0.0
    opened: bool = False  # the consent page was opened as a page (not fetched by a script)
    served_at: float | None = None  # when the consent page was last served
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
                 config_origins: tuple[str, ...], limits: PairingLimits,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.enabled = enabled
        self.token_days = token_days
        self.config_origins = config_origins
        self.limits = limits
        self._clock = clock
        self._limiter = RateLimiter(limits.per_minute, clock=clock)
        self._requests: dict[str, PairRequest] = {}

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
        if self.limits.per_minute == 0:
            raise PairingDisabled("pairing requests are turned off ([limits] "
                                  "pair_requests_per_minute = 0)", origin=origin)
        site = site_of(origin)
        # An origin the user already paired for these scopes asks for nothing new (its token
        # was lost, or runs out): it waits outside the shared room, and its rate bucket is
        # its own, so that no flood from its neighbours' subdomains can lock it out. Its room
        # is bounded by the origins the user approved, one waiting request each.
        reserved = self._holds(origin, wanted)
        wait = self._limiter.take(f"origin {origin}" if reserved else f"site {site}")
        if wait:
            raise RateLimited(f"too many pairing requests from {site}",
                              retry_after=max(1, round(wait)))
        self._expire()
        mine = [r for r in self._requests.values() if r.origin == origin and r.status == "pending"]
        if not reserved:
            self._check_room(site, {r.id for r in mine})
        for old in mine:
            del self._requests[old.id]  # one pending request per origin: the newest
        secret = secrets.token_urlsafe(24)
        now = self._clock()
        request = PairRequest(secrets.token_urlsafe(16), origin, wanted, app_name[:80], _code(),
                              hash_secret(secret), secrets.token_urlsafe(24),
                              now + self.limits.unopened_ttl, site=site, reserved=reserved,
                              created=now)
        self._requests[request.id] = request
        return PairOutcome(request, secret=secret)

    def _holds(self, origin: str, wanted: frozenset[str]) -> bool:
        """Whether ``origin`` holds a live token with all of ``wanted``."""
        return any(g.origin == origin and wanted <= g.scopes for g in self.store.grants())

    def _check_room(self, site: str, replaced: set[str]) -> None:
        """RateLimited when the shared room, or this site's part of it, is full."""
        waiting = [r for r in self._requests.values()
                   if r.status == "pending" and not r.reserved and r.id not in replaced]
        retry = max(1, round(self.limits.unopened_ttl))
        if sum(r.site == site for r in waiting) >= self.limits.max_pending_per_site:
            raise RateLimited(f"too many pairing requests from {site} are waiting",
                              retry_after=retry)
        if len(waiting) >= self.limits.max_pending:
            raise RateLimited("too many pairing requests are waiting", retry_after=retry)

    def lifetime(self, request: PairRequest) -> float:
        """Seconds the request may live at most (once its consent page is opened)."""
        return request.created + max(REQUEST_TTL, self.limits.unopened_ttl) - self._clock()

    def serve(self, request_id: str, *, as_page: bool) -> PairRequest:
        """The consent page is being served: the Allow delay starts again, and a page opened
        as a page (a navigation, not a script's fetch) keeps the request for REQUEST_TTL."""
        request = self.get(request_id)
        now = self._clock()
        request.served_at = now
        if as_page and not request.opened:
            request.opened = True
            request.expires = max(request.expires, request.created + REQUEST_TTL)
        return request

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
            shown = None if request.served_at is None else self._clock() - request.served_at
            if shown is None or shown < self.limits.consent_delay:
                raise ConsentTooSoon(
                    "Allow was clicked too soon after the consent page appeared; look at the "
                    "page, then click Allow again", delay_ms=round(self.limits.consent_delay
                                                                   * 1000))
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
