"""Origin canonical form (what exact-match allow-lists compare) and the listener config rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanlet.config import Home, is_remote, load_settings
from scanlet.errors import ConfigError
from scanlet.security.origins import parse_origin
from scanlet.security.ratelimit import RateLimiter


@pytest.mark.parametrize(("raw", "canonical"), [
    ("https://App.Example.com", "https://app.example.com"),
    ("https://app.example.com:443", "https://app.example.com"),
    ("http://app.example.com:80", "http://app.example.com"),
    ("http://localhost:3000", "http://localhost:3000"),
    ("http://[0:0::1]:8080", "http://[::1]:8080"),
    ("https://app.example.com/", "https://app.example.com"),
])
def test_origins_have_one_canonical_form(raw: str, canonical: str) -> None:
    assert parse_origin(raw) == canonical


@pytest.mark.parametrize("raw", [
    "null", "", "file://", "ftp://app.example.com", "chrome-extension://abcdef",
    "https://app.example.com/path", "https://app.example.com?x=1", "https://user@app.test",
    "https://app.example.com.", "https://app_example.com", "https://exa mple.com",
    "https://app.example.com:99999", "javascript:alert(1)", "https://[::1", "https:///x",
])
def test_unusable_origins_have_no_canonical_form(raw: str) -> None:
    assert parse_origin(raw) is None


def _home(tmp_path: Path, ini: str) -> Home:
    home = Home(tmp_path / "h").create()
    home.user_config.write_text(ini)
    return home


def test_non_loopback_listeners_need_an_explicit_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(_home(tmp_path, "[server]\nhost = 0.0.0.0\n"))
    assert "allow_remote" in refused.value.message
    with pytest.raises(ConfigError):
        load_settings(Home(tmp_path / "h2").create(), host="192.168.1.5")


def test_remote_mode_needs_an_admin_certificate(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(_home(tmp_path, "[server]\nhost = 0.0.0.0\nallow_remote = true\n"))
    assert "cert_file" in refused.value.message
    settings = load_settings(_home(tmp_path, (
        "[server]\nhost = 127.0.0.2\nallow_remote = true\npublic_names = scanner.test\n"
        "[tls]\ncert_file = /x/c.pem\nkey_file = /x/k.pem\n")))
    assert is_remote(settings) and settings.public_names == ("scanner.test",)


def test_loopback_is_the_default(tmp_path: Path) -> None:
    settings = load_settings(Home(tmp_path / "h").create())
    assert settings.host == "127.0.0.1" and not is_remote(settings) and not settings.https
    assert load_settings(Home(tmp_path / "h").create(), host="localhost").host == "127.0.0.1"
    assert load_settings(Home(tmp_path / "h").create(), host="::1").host == "::1"


@pytest.mark.parametrize("value", ["*", "https://*.example.com", "example.com",
                                   "https://app.example.com:443", "null"])
def test_allowed_origins_must_be_exact_canonical_origins(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(_home(tmp_path, f"[security]\nallowed_origins = {value}\n"))
    assert refused.value.detail["key"] == "security.allowed_origins"


def test_rate_limiter_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("a")
    assert 19 < wait <= 20  # one token per 20 s at 3 per minute
    assert limiter.take("b") == 0.0  # per key
    now[0] += 20.0
    assert limiter.take("a") == 0.0
    assert RateLimiter(0).take("a") == 0.0  # 0 = unlimited
