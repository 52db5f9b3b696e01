"""The access rules, as plain functions of one request's facts (no ASGI here).

Order: the Host header (DNS rebinding), then who is asking (Scanlet's own pages, a paired or
admin-allowed web origin with its token, a native client with an API key), then what the route
needs (nothing for public routes, a scope for API routes), then CSRF rules for requests that
change state (JSON bodies only; the token travels in a header that forces a preflight) and
Fetch Metadata (the API answers fetch/XHR, never navigations, forms or images).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from scanlet.config import Settings, is_remote
from scanlet.errors import (
    FetchModeNotAllowed,
    HostNotAllowed,
    OriginNotAllowed,
    ScopeNotGranted,
    TokenInvalid,
    TokenOriginMismatch,
    Unauthorized,
    UnsupportedMediaType,
)
from scanlet.security.access import ALL_SCOPES, KEY_PREFIX, TOKEN_PREFIX, AccessStore
from scanlet.security.origins import LOOPBACK_NAMES, own_origins, parse_origin
from scanlet.security.peer import lookup_available

#: Header names (lower case) a browser page may send; anything else fails the preflight.
ALLOWED_REQUEST_HEADERS = ("authorization", "content-type", "if-none-match", "x-pdf-password")
ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
EXPOSED_HEADERS = ("ETag", "Content-Disposition", "Retry-After", "Location")
#: The product-key header of the compatibility API; native clients may send their key in it.
PRODUCT_KEY_HEADER = "dwt-product-key"
#: Its name in the reference's version 19.0.
LEGACY_PRODUCT_KEY_HEADER = "x-dics-license-key"
WS_TOKEN_PROTOCOL = "scanlet.bearer."
WS_PROTOCOL = "scanlet"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: The scope extension where the HTTP protocol records an absolute-form request target.
ABSOLUTE_TARGET = "scanlet.absolute_target"

#: Why the consent page cannot decide where the peer's OS user cannot be known.
_NO_PEER_LOOKUP = ("; this system cannot tell which user opened a connection, so the consent "
                   "page is off: allow sites with [security] allowed_origins or "
                   "'scanlet sites allow'")
_PAIR_TOKEN = re.compile(r"^/v1/pair/[A-Za-z0-9_-]{1,64}/token$")
_CONSENT_PAGE = re.compile(r"^/pair/[A-Za-z0-9_-]{1,64}$")
_CONSENT_DECISION = re.compile(r"^/pair/[A-Za-z0-9_-]{1,64}/decision$")
_PAGES = ("/v1/docs", "/v1/openapi.json")
#: The service's own pages (routes_web), read-only: other methods stay API paths (default deny).
_OWN_PAGES = ("/", "/admin", "/demo")
#: The JavaScript SDK, which any page may load (routes_web: CORS ``*``).
SDK_PREFIX = "/sdk/"
#: The SDK and the scripts, styles and strings of the pages.
_OWN_PAGE_PREFIXES = (SDK_PREFIX, "/web/")
_IMPORT = re.compile(r"^/v1/documents/[A-Za-z0-9_-]{1,64}/import$")
#: Any segment, not only valid ids: a request is counted before the route looks at the id.
_OCR = re.compile(r"^/v1/documents/[^/]+/ocr$")
_UPLOAD = re.compile(r"^/v1/documents/[^/]+/upload$")
#: Media types a file-taking route accepts; none of them can be sent by a plain HTML form,
#: so such requests are preflighted like JSON ones.
BINARY_MEDIA_TYPES = ("application/octet-stream", "application/pdf", "image/jpeg", "image/png",
                      "image/tiff", "image/bmp", "image/webp")
_ADMIN_PREFIXES = ("/v1/sites", "/v1/keys", "/v1/admin")
#: The compatibility APIs (scanlet.compat): the reference's v19 API and its legacy one.
_COMPAT_PREFIXES = ("/api/", "/DWTAPI/")
_COMPAT_ROOTS = ("/api", "/DWTAPI")
_COMPAT_SCANS = ("/api/device/scanners/jobs", "/DWTAPI/ScanJobs")


@dataclass(frozen=True)
class Facts:
    """What the rules look at, read from the raw request."""

    method: str
    path: str
    scheme: str  # http or https (ws/wss mapped)
    port: int
    hosts: list[str]
    origins: list[str]
    authorization: list[str]
    product_keys: list[str]
    content_type: str | None
    has_body: bool
    fetch_site: str | None
    fetch_mode: str | None
    websocket: bool = False
    ws_tokens: list[str] = field(default_factory=list)
    #: True only when the kernel said this service's user opened the connection (security/peer)
    peer_trusted: bool = False
    #: (scheme, authority) of an absolute-form request target; None for the usual origin-form
    absolute_target: tuple[str, str] | None = None


@dataclass(frozen=True)
class Principal:
    """Who a request acts for."""

    kind: str  # self | site | key | local (a compat call without a key) | anonymous
    id: str
    origin: str | None
    scopes: frozenset[str]


ANONYMOUS = Principal("anonymous", "", None, frozenset())
#: Who a keyless call of the compatibility API acts for: a program of this computer's user.
LOCAL_PROGRAM = Principal("local", "local-program", None,
                          frozenset({"scan", "files", "upload"}))


@dataclass(frozen=True)
class Route:
    """How a path is treated."""

    kind: str  # page | consent | public | api
    scope: str | None = None
    binary: bool = False  # takes a file as its body (streamed, own size cap) instead of JSON


def classify(method: str, path: str) -> Route:
    """Which rules apply to a path; unknown paths are API paths (default deny)."""
    if path in _PAGES or _CONSENT_PAGE.match(path):
        return Route("page")
    if method in ("GET", "HEAD") and (path in _OWN_PAGES or path.startswith(_OWN_PAGE_PREFIXES)):
        return Route("page")
    if _CONSENT_DECISION.match(path):
        return Route("consent")
    if path in ("/v1/version", "/v1/health", "/v1/pair") or _PAIR_TOKEN.match(path):
        return Route("public")
    if path.startswith(_ADMIN_PREFIXES):
        return Route("api", "admin")
    if path.startswith(_COMPAT_PREFIXES) or path in _COMPAT_ROOTS:
        return Route("compat", "scan")
    if _IMPORT.match(path):
        return Route("api", "files", binary=True)
    if _UPLOAD.match(path):
        return Route("api", "upload")
    return Route("api", "scan")


@dataclass(frozen=True)
class RateLimitedAction:
    """An expensive request that costs a token of its per-client bucket."""

    name: str  # scan | ocr | upload: which limiter (``[limits] scans_per_minute``, ...)
    what: str  # for the message: "too many <what> started"


_SCAN_ACTION = RateLimitedAction("scan", "scans")
_OCR_ACTION = RateLimitedAction("ocr", "OCR tasks")
_UPLOAD_ACTION = RateLimitedAction("upload", "uploads")


def rate_limited_action(method: str, path: str) -> RateLimitedAction | None:
    """Which per-client rate limit a request counts against, if any: starting a scan
    (``[limits] scans_per_minute``), an OCR task (``[limits] ocr_tasks_per_minute``) or an
    upload (``[limits] upload_tasks_per_minute``)."""
    if method != "POST":
        return None
    if path == "/v1/jobs" or path in _COMPAT_SCANS:
        return _SCAN_ACTION
    if _OCR.match(path):
        return _OCR_ACTION
    if _UPLOAD.match(path):
        return _UPLOAD_ACTION
    return None


@dataclass(frozen=True)
class Verdict:
    principal: Principal
    cors_origin: str | None  # the Origin to echo in Access-Control-Allow-Origin


class AccessPolicy:
    """Decides every request; shared by the HTTP and WebSocket paths."""

    def __init__(self, settings: Settings, store: AccessStore) -> None:
        self.settings = settings
        self.store = store
        self.remote = is_remote(settings)
        self.names = LOOPBACK_NAMES if not self.remote else \
            (*LOOPBACK_NAMES, *settings.public_names)

    # Host -------------------------------------------------------------------------------

    def check_host(self, facts: Facts) -> None:
        """Exactly one Host header naming this listener by a loopback name (or a public name)."""
        if len(facts.hosts) != 1:
            raise HostNotAllowed("missing or repeated Host header")
        host = facts.hosts[0].strip().lower()
        allowed = {f"{name}:{facts.port}" for name in self.names}
        if host not in allowed:
            raise HostNotAllowed(f"Host {host[:100]!r} is not one of {sorted(allowed)}")
        if facts.absolute_target is not None:
            # RFC 9112 3.2.2: such a target's authority, not Host, names the server, so it
            # passes the same allow-list (and names this listener's scheme).
            scheme, authority = facts.absolute_target
            if scheme.lower() != facts.scheme or authority.lower() not in allowed:
                raise HostNotAllowed(f"request target {scheme[:10]}://{authority[:100]} is not "
                                     f"one of {sorted(allowed)} over {facts.scheme}")

    def own(self, facts: Facts) -> set[str]:
        return own_origins(facts.scheme, facts.port, self.names)

    # Origins ----------------------------------------------------------------------------

    def origin_of(self, facts: Facts) -> str | None:
        """The request's origin (canonical), None when it has none; refuses bad ones."""
        if not facts.origins:
            return None
        if len(facts.origins) > 1:
            raise OriginNotAllowed("repeated Origin header")
        origin = parse_origin(facts.origins[0])
        if origin is None:
            raise OriginNotAllowed(f"Origin {facts.origins[0][:100]!r} is never allowed")
        return origin

    def claims_own(self, facts: Facts) -> bool:
        """Whether the request would be trusted as Scanlet's own page (without a token)."""
        if classify(facts.method, facts.path).kind == "consent":
            return True
        if facts.origins:
            return parse_origin(facts.origins[0]) in self.own(facts)
        return facts.fetch_site == "same-origin"

    def known_origin(self, origin: str) -> bool:
        """Listed by the admin, allowed with the CLI, or holding a live token."""
        return (origin in self.settings.allowed_origins
                or self.store.allowed_site(origin) is not None
                or self.store.has_grant(origin))

    def preflight(self, facts: Facts, requested_headers: list[str]) -> str:
        """The origin to allow in a CORS preflight answer, or an error."""
        self.check_host(facts)
        origin = self.origin_of(facts)
        if origin is None:
            raise OriginNotAllowed("a preflight needs an Origin")
        route = classify(facts.method, facts.path)
        # Any page may load the SDK (before it pairs), also when the browser asks first
        # (a Private Network Access preflight for a module script).
        sdk = route.kind == "page" and facts.path.startswith(SDK_PREFIX)
        if route.kind != "public" and not sdk and origin not in self.own(facts) \
                and not self.known_origin(origin):
            raise OriginNotAllowed(f"{origin} is not paired with this computer's Scanlet",
                                   origin=origin)
        extra = set(requested_headers) - set(ALLOWED_REQUEST_HEADERS)
        if extra:
            raise OriginNotAllowed(f"request headers not allowed: {sorted(extra)}")
        return origin

    # The request ------------------------------------------------------------------------

    def decide(self, facts: Facts) -> Verdict:
        """Who the request acts for, or an AccessError. Host is checked first."""
        self.check_host(facts)
        route = classify(facts.method, facts.path)
        if route.kind == "compat":
            return self._compat(facts)
        origin = self.origin_of(facts)
        own = self.own(facts)
        # Beyond loopback anyone on the network could claim to be Scanlet's own page, so
        # remote mode trusts no origin without a token and takes no consent decisions.
        is_own = not self.remote and facts.peer_trusted and (
            (origin in own) if origin is not None else facts.fetch_site == "same-origin")
        self._check_fetch_metadata(facts, route, is_own)
        if route.kind == "page":
            return Verdict(ANONYMOUS, None)
        if route.kind == "consent":
            if not is_own or origin is None or facts.fetch_site not in (None, "same-origin"):
                raise OriginNotAllowed("decisions are taken only on Scanlet's own consent page"
                                       + ("" if lookup_available() else _NO_PEER_LOOKUP))
            return Verdict(Principal("self", "self", origin, frozenset(ALL_SCOPES)), None)
        foreign = origin if origin is not None and origin not in own else None
        if route.kind == "public":  # needs no credential, so one sent is not even looked at
            self._check_body(facts, route)
            return Verdict(Principal("self", "self", origin, frozenset(ALL_SCOPES)) if is_own
                           else ANONYMOUS, foreign)
        principal = self._credential(facts, origin, is_own)
        self._check_body(facts, route)
        assert route.scope is not None
        if route.scope not in principal.scopes:
            raise ScopeNotGranted(f"this needs the {route.scope!r} scope", scope=route.scope)
        return Verdict(principal, foreign)

    def _compat(self, facts: Facts) -> Verdict:
        """The compatibility APIs: programs on this computer only (see scanlet.compat)."""
        own = self.own(facts)
        for raw in facts.origins:
            value = raw.strip().lower()
            origin = parse_origin(raw)
            # A web page: an http(s) origin, or the opaque "null" of sandboxed and file pages,
            # is refused even with a key. Other schemes (extensions, the reference's .NET
            # client's dynamic-web-twain.net://...) may call with a key only (below).
            if value == "null" or (value.startswith(("http:", "https:")) and origin not in own):
                raise OriginNotAllowed("the compatibility API is for programs on this "
                                       "computer; web pages use the Scanlet SDK "
                                       "(/sdk/scanlet.js)", origin=raw[:100])
        if facts.fetch_site not in (None, "none", "same-origin"):
            raise FetchModeNotAllowed("the compatibility API is not for web pages",
                                      site=facts.fetch_site)
        secret = self._bearer(facts)
        if secret:
            key = self.store.lookup_key(secret) if secret.startswith(KEY_PREFIX) else None
            if key is None:
                raise TokenInvalid("the product key is not a valid Scanlet API key "
                                   "(scanlet keys create)")
            if "scan" not in key.scopes:
                raise ScopeNotGranted("this needs the 'scan' scope", scope="scan")
            return Verdict(Principal("key", key.id, None, key.scopes), None)
        if facts.origins:
            # Browsers send Origin; programs do not need to. Whatever its value (an extension,
            # a file:// page, "null", even a program's own scheme), a browser context may be
            # running any web content, so it never gets the keyless trust of a local program.
            raise OriginNotAllowed("a call with an Origin header (a browser, an extension or a "
                                   "file page) needs a Scanlet API key (scanlet keys create) "
                                   "as DWT-PRODUCT-KEY", origin=facts.origins[0][:100])
        if not self.remote and facts.peer_trusted:
            return Verdict(LOCAL_PROGRAM, None)
        raise Unauthorized("send a Scanlet API key (scanlet keys create) as DWT-PRODUCT-KEY")

    def _check_fetch_metadata(self, facts: Facts, route: Route, is_own: bool) -> None:
        mode = facts.fetch_mode
        if mode is None:
            return
        if facts.websocket:
            if mode != "websocket":
                raise FetchModeNotAllowed(f"Sec-Fetch-Mode {mode!r} on a WebSocket")
            return
        if route.kind == "page":
            return
        if route.kind == "consent":
            if mode not in ("navigate", "same-origin", "cors"):
                raise FetchModeNotAllowed(f"Sec-Fetch-Mode {mode!r}")
            return
        if mode not in ("cors", "same-origin"):
            raise FetchModeNotAllowed(f"Sec-Fetch-Mode {mode!r} is not fetch/XHR", mode=mode)

    def _check_body(self, facts: Facts, route: Route) -> None:
        if facts.method in SAFE_METHODS or not facts.has_body:
            return
        media = (facts.content_type or "").split(";", 1)[0].strip().lower()
        if route.binary:
            if media not in BINARY_MEDIA_TYPES:
                raise UnsupportedMediaType(f"Content-Type {media or 'none'!r}; send the file as "
                                           f"one of {list(BINARY_MEDIA_TYPES)}",
                                           allowed=list(BINARY_MEDIA_TYPES))
            return
        if media != "application/json":
            raise UnsupportedMediaType(f"Content-Type {media or 'none'!r}; send application/json")

    def _bearer(self, facts: Facts) -> str | None:
        values = [v for v in facts.authorization if v.strip()]
        if len(values) > 1:
            raise TokenInvalid("repeated Authorization header")
        if values:
            scheme, _, value = values[0].strip().partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise TokenInvalid("use Authorization: Bearer <token>")
            return value.strip()
        if facts.product_keys:
            return facts.product_keys[0].strip()
        if facts.ws_tokens:
            return facts.ws_tokens[0]
        return None

    def _credential(self, facts: Facts, origin: str | None, is_own: bool) -> Principal:
        secret = self._bearer(facts)
        if secret is None:
            if is_own:
                return Principal("self", "self", origin, frozenset(ALL_SCOPES))
            if origin is not None:
                raise Unauthorized(f"{origin} must pair first (POST /v1/pair) and send its "
                                   "token as Authorization: Bearer", origin=origin)
            raise Unauthorized("send an API key (scanlet keys create) as "
                               "Authorization: Bearer")
        if secret.startswith(TOKEN_PREFIX):
            grant = self.store.lookup_token(secret)
            if grant is None:
                raise TokenInvalid()
            if origin is None or grant.origin != origin:
                raise TokenOriginMismatch(origin=origin)
            return Principal("site", grant.id, origin, grant.scopes)
        if secret.startswith(KEY_PREFIX):
            key = self.store.lookup_key(secret)
            if key is None:
                raise TokenInvalid()
            if origin is not None and not is_own:
                raise OriginNotAllowed("API keys are for native clients, not web pages; "
                                       "pages pair instead", origin=origin)
            return Principal("key", key.id, origin, key.scopes)
        raise TokenInvalid()
