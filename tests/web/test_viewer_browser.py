"""``<scanlet-viewer>`` in real headless Chromium (Debian's /usr/bin/chromium via Playwright).

The viewer runs on a foreign origin (``ViewerOrigin``: another loopback port, with the strict
CSP of Scanlet's own pages) and talks to a real ``scanlet serve --demo`` through a client of
the SDK (see viewer_fixtures.py). The service lets that origin pair at once
(``[security] allowed_origins``). Every change the viewer makes is checked on the service with
the CLI's key, never only in the page.

Screenshots go to ``$SCANLET_ARTIFACTS/viewer`` (or a ``tmp`` folder under pytest's tmp path,
printed) for review.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageChops, ImageStat
from playwright.sync_api import (
    Browser,
    FloatRect,
    Locator,
    Page,
    ViewportSize,
)

from tests.conftest import Service, make_home, start_service
from tests.helpers import job_events
from tests.web.viewer_fixtures import ViewerOrigin, allowed_origin_config, client_kind

pytestmark = pytest.mark.timeout(90)

#: Test scanner pages with a picture (the default one is a blank page, the same rotated).
SCAN: dict[str, Any] = {"device": "sane:test:0", "source": "feeder", "mode": "color",
                        "resolution": 75, "raw_options": {"test_picture": "Color pattern"}}
#: About 0.9 s per page, so a 3-page scan runs long enough to watch pages arrive. (Web pages
#: may not set text options such as test_picture, so these pages are plain.)
SLOW_RAW = {"read_delay": True, "read_delay_duration": 100000}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 740}


# Fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def origin() -> Iterator[ViewerOrigin]:
    server = ViewerOrigin()
    print(f"viewer tests use the {client_kind()} client")
    yield server
    server.close()


@pytest.fixture(scope="module")
def svc(origin: ViewerOrigin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = make_home(tmp_path_factory.mktemp("viewer") / "home")
    with open(home / "user.ini", "a") as fh:
        fh.write(allowed_origin_config(origin.origin))
    service = start_service(home)
    origin.service_url = service.url
    yield service
    service.kill()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = os.environ.get("SCANLET_ARTIFACTS")
    folder = (Path(base) if base else tmp_path_factory.mktemp("tmp")) / "viewer"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"viewer screenshots: {folder}")
    return folder


OpenPage = Callable[..., Page]


@pytest.fixture
def open_page(chromium: Browser, origin: ViewerOrigin, svc: Service) -> Iterator[OpenPage]:
    """Open the harness page in a fresh context; checks no CSP violation or page error."""
    contexts = []
    pages: list[tuple[Page, list[str]]] = []

    def open_(viewport: ViewportSize = DESKTOP, **url_args: Any) -> Page:
        context = chromium.new_context(viewport=viewport)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        pages.append((page, errors))
        response = page.goto(origin.page_url(**url_args))
        assert response is not None and response.status == 200
        page.wait_for_function("() => window.harness && window.harness.ready")
        page.evaluate("() => window.harness.ready")
        assert page.evaluate("() => window.harness.log.readyError || null") is None
        return page

    yield open_
    try:
        for page, errors in pages:
            if not page.is_closed():
                violations = page.evaluate("() => window.harness.log.violations")
                assert violations == [], violations
            assert errors == [], errors
    finally:
        for context in contexts:
            context.close()


# Helpers ----------------------------------------------------------------------------------

def http(svc: Service) -> httpx.Client:
    return svc.client()


def scan_document(svc: Service, pages: int = 3, **extra: Any) -> tuple[str, list[dict[str, Any]]]:
    """A finished feeder scan of ``pages`` pages (native client); (document id, its pages)."""
    with http(svc) as client:
        response = client.post("/v1/jobs", json={**SCAN, "pages": pages, **extra})
        assert response.status_code == 201, response.text
        job = response.json()
    events = job_events(svc.url, job["id"], timeout=60, headers=svc.auth)
    assert events[-1]["job"]["state"] == "completed", events[-1]
    return job["document_id"], server_pages(svc, job["document_id"])


def server_pages(svc: Service, document_id: str) -> list[dict[str, Any]]:
    with http(svc) as client:
        response = client.get(f"/v1/documents/{document_id}/pages")
        assert response.status_code == 200, response.text
        result: list[dict[str, Any]] = response.json()
        return result


def server_image(svc: Service, page_id: str) -> Image.Image:
    with http(svc) as client:
        response = client.get(f"/v1/pages/{page_id}/image")
        assert response.status_code == 200, response.text
    return Image.open(io.BytesIO(response.content)).convert("L")


def wait_until(check: Callable[[], Any], what: str, timeout: float = 10) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def ids(pages: list[dict[str, Any]]) -> list[str]:
    return [p["id"] for p in pages]


def attach(page: Page, document_id: str) -> list[str]:
    """Show a document in the viewer; wait until every thumbnail has its image."""
    shown: list[str] = page.evaluate("(id) => window.harness.attach(id)", document_id)
    wait_thumbs_loaded(page, len(shown))
    return shown


def wait_thumbs_loaded(page: Page, count: int) -> None:
    page.wait_for_function(
        """(n) => { const t = window.harness.thumbs();
                   return t.length === n
                          && t.every((x) => x.loaded && x.src.startsWith("blob:")); }""",
        arg=count)


def viewer(page: Page) -> Locator:
    return page.locator("scanlet-viewer")


def thumb(page: Page, page_id: str) -> Locator:
    return viewer(page).locator(f'[data-page-id="{page_id}"]')


def button(page: Page, action: str) -> Locator:
    return viewer(page).locator(f'button[data-action="{action}"]')


def events(page: Page, kind: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate(
        "(k) => window.harness.log.events.filter((e) => e.type === k)", kind)
    return result


def wait_event(page: Page, kind: str, count: int = 1) -> list[dict[str, Any]]:
    page.wait_for_function(
        "([k, n]) => window.harness.log.events.filter((e) => e.type === k).length >= n",
        arg=[kind, count])
    return events(page, kind)


def active(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate("() => window.harness.active()")
    return result


def box_of(locator: Locator) -> FloatRect:
    box = locator.bounding_box()
    assert box is not None
    return box


# Tests ------------------------------------------------------------------------------------

def test_pages_appear_live_while_the_scan_runs(open_page: OpenPage, svc: Service,
                                               artifacts: Path) -> None:
    with http(svc) as client:
        document_id = client.post("/v1/documents", json={"name": "live"}).json()["id"]
    page = open_page()
    assert attach(page, document_id) == []
    calls = page.evaluate("() => window.harness.log.pagesCalls")
    empty = viewer(page).locator("[part~=empty]")
    assert empty.is_visible() and empty.inner_text().strip()

    page.evaluate("(s) => window.harness.scan(s)",
                  {**SCAN, "mode": "gray", "pages": 3, "document_id": document_id,
                   "raw_options": SLOW_RAW})
    # The first thumbnail is there, with its image, before the scan has finished.
    page.wait_for_function("() => window.harness.thumbs().some((t) => t.loaded)")
    early = page.evaluate("() => [window.harness.log.jobDone, window.harness.thumbs().length]")
    assert early[0] is None and 1 <= early[1] < 3, early
    page.wait_for_function("() => window.harness.log.jobDone || window.harness.log.scanError",
                           timeout=30_000)
    assert page.evaluate("() => window.harness.log.scanError") is None
    wait_thumbs_loaded(page, 3)

    added = events(page, "pageadded")
    assert len(added) == 3
    assert [e["thumbs"] for e in added] == [1, 2, 3]
    assert not added[0]["jobDone"], "the first page was only shown after the scan finished"
    # Shown through the client's "page" events: the page list was not loaded again.
    assert page.evaluate("() => window.harness.log.pagesCalls") == calls
    assert page.evaluate("() => window.harness.viewer.pageIds") == ids(
        server_pages(svc, document_id))
    assert not empty.is_visible()
    assert viewer(page).get_by_role("option").count() == 3
    page.screenshot(path=artifacts / "viewer-live-desktop.png")


def test_select_and_rotate_right(open_page: OpenPage, svc: Service) -> None:
    document_id, before = scan_document(svc, 3)
    page = open_page()
    attach(page, document_id)
    second = before[1]
    original = server_image(svc, second["id"])
    old_src = page.evaluate("() => window.harness.thumbs()[1].src")

    thumb(page, second["id"]).click()
    assert thumb(page, second["id"]).get_attribute("aria-selected") == "true"
    assert wait_event(page, "selectionchange")[-1]["pageIds"] == [second["id"]]
    viewer(page).get_by_role("button", name="Rotate right").click()

    edited = wait_event(page, "pageedited")[-1]["page"]
    after = {p["id"]: p for p in server_pages(svc, document_id)}[second["id"]]
    assert after["version"] == 1 == edited["version"]
    assert (after["width"], after["height"]) == (second["height"], second["width"])
    # Turned clockwise: compare with the original turned both ways.
    rotated = server_image(svc, second["id"])
    cw = original.transpose(Image.Transpose.ROTATE_270)
    ccw = original.transpose(Image.Transpose.ROTATE_90)
    diff_cw = ImageStat.Stat(ImageChops.difference(rotated, cw)).mean[0]
    diff_ccw = ImageStat.Stat(ImageChops.difference(rotated, ccw)).mean[0]
    assert diff_cw < 10 < diff_ccw, (diff_cw, diff_ccw)
    # Untouched pages keep version 0.
    assert [p["version"] for p in server_pages(svc, document_id)] == [0, 1, 0]

    # The thumbnail was fetched again (landscape now) and the old blob: URL revoked.
    page.wait_for_function(
        """(id) => { const t = window.harness.thumbs().find((x) => x.id === id);
                    return t.loaded && t.w > t.h; }""", arg=second["id"])
    assert page.evaluate("(u) => window.harness.blobAlive(u)", old_src) is False
    page.wait_for_function(
        "() => { const l = window.harness.large(); return l.loaded && l.w > l.h; }")


def test_drag_a_thumbnail_with_the_mouse_reorders_on_the_service(
        open_page: OpenPage, svc: Service) -> None:
    document_id, before = scan_document(svc, 3)
    first, second, third = ids(before)
    page = open_page()
    attach(page, document_id)

    source = box_of(thumb(page, first))
    target = box_of(thumb(page, third))
    page.mouse.move(source["x"] + source["width"] / 2, source["y"] + source["height"] / 2)
    page.mouse.down()
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + target["height"] * 0.85,
                    steps=12)
    page.mouse.up()

    order = wait_event(page, "orderchange")[-1]["pageIds"]
    assert order == [second, third, first]
    assert ids(server_pages(svc, document_id)) == [second, third, first]
    shown = [t["id"] for t in page.evaluate("() => window.harness.thumbs()")]
    assert shown == [second, third, first]
    # A drag is not a click: the dragged page is selected, nothing else changed.
    assert page.evaluate("() => window.harness.viewer.selectedPageIds") == [first]

    # Dragging one of several selected pages moves them all (in their order) to the drop.
    thumb(page, third).click(modifiers=["Control"])
    source = box_of(thumb(page, first))
    target = box_of(thumb(page, second))
    page.mouse.move(source["x"] + source["width"] / 2, source["y"] + source["height"] / 2)
    page.mouse.down()
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + target["height"] * 0.15,
                    steps=12)
    page.mouse.up()
    assert wait_event(page, "orderchange", 2)[-1]["pageIds"] == [third, first, second]
    assert ids(server_pages(svc, document_id)) == [third, first, second]


def test_keyboard_only(open_page: OpenPage, svc: Service, artifacts: Path) -> None:
    document_id, before = scan_document(svc, 4)
    p1, p2, p3, p4 = ids(before)
    page = open_page()
    attach(page, document_id)
    page.focus("#before")

    # Tab walks through every button and the view into the strip.
    reached: list[str] = []
    for _ in range(15):
        page.keyboard.press("Tab")
        now = active(page)
        if now["role"] == "option":
            break
        assert now["inViewer"], now
        reached.append(now["action"] or now["role"] or now["tag"])
        if now["tag"] == "button":
            assert now["label"], now
            assert now["outline"] != "none", f"no visible focus on {now}"
    else:
        raise AssertionError(f"Tab never reached the page list: {reached}")
    for action in ("rotate-left", "rotate-right", "crop", "delete", "zoom-out", "zoom-in",
                   "zoom-reset"):
        assert action in reached, reached
    assert now["pageId"] == p1 and now["outline"] != "none", now

    # Arrows move the focus (only one option is tabbable), Space selects.
    page.keyboard.press("ArrowDown")
    assert active(page)["pageId"] == p2
    tabbable = viewer(page).locator('[role=option][tabindex="0"]')
    assert tabbable.count() == 1 and tabbable.get_attribute("data-page-id") == p2
    page.keyboard.press("Space")
    assert thumb(page, p2).get_attribute("aria-selected") == "true"
    assert page.evaluate("() => window.harness.viewer.selectedPageIds") == [p2]

    # Alt+ArrowDown moves the selected page one place on.
    page.keyboard.press("Alt+ArrowDown")
    wait_event(page, "orderchange")
    assert ids(server_pages(svc, document_id)) == [p1, p3, p2, p4]
    assert active(page)["pageId"] == p2

    # R rotates right, Shift+R left again.
    page.keyboard.press("r")
    wait_event(page, "pageedited")
    moved = {p["id"]: p for p in server_pages(svc, document_id)}[p2]
    assert moved["version"] == 1 and moved["width"] > moved["height"]
    page.keyboard.press("Shift+R")
    wait_event(page, "pageedited", 2)
    moved = {p["id"]: p for p in server_pages(svc, document_id)}[p2]
    assert moved["version"] == 2 and moved["width"] < moved["height"]

    # Delete deletes the selection; the focus stays in the list, on the next page.
    page.keyboard.press("Delete")
    assert wait_event(page, "pagedeleted")[-1]["pageIds"] == [p2]
    assert ids(server_pages(svc, document_id)) == [p1, p3, p4]
    now = active(page)
    assert now["role"] == "option" and now["pageId"] == p4, now
    page.screenshot(path=artifacts / "viewer-keyboard-focus-desktop.png")

    # Shift+Tab back to the toolbar; Enter on "Rotate left" rotates the focused page.
    for _ in range(12):
        page.keyboard.press("Shift+Tab")
        if active(page)["action"] == "rotate-left":
            break
    else:
        raise AssertionError("Shift+Tab never reached the rotate-left button")
    page.keyboard.press("Enter")
    wait_event(page, "pageedited", 3)
    last = {p["id"]: p for p in server_pages(svc, document_id)}[p4]
    assert last["version"] == 1 and last["width"] > last["height"]

    # The crop tool by keyboard: Tab to it, Enter, shrink with Shift+Arrows, Enter applies.
    for _ in range(6):
        page.keyboard.press("Tab")
        if active(page)["action"] == "crop":
            break
    page.keyboard.press("Enter")
    assert button(page, "crop").get_attribute("aria-pressed") == "true"
    assert active(page)["role"] == "group"  # the large view has the focus
    for _ in range(5):
        page.keyboard.press("Shift+ArrowLeft")
    page.keyboard.press("Enter")
    wait_event(page, "pageedited", 4)
    cropped = {p["id"]: p for p in server_pages(svc, document_id)}[p4]
    assert cropped["version"] == 2
    assert cropped["width"] < last["width"] * 0.85 and cropped["height"] < last["height"]
    assert button(page, "crop").get_attribute("aria-pressed") == "false"

    # Ctrl+A in the list selects everything.
    thumb(page, p1).focus()
    page.keyboard.press("Control+a")
    assert page.evaluate("() => window.harness.viewer.selectedPageIds") == [p1, p3, p4]


def test_crop_by_dragging_a_rectangle(open_page: OpenPage, svc: Service,
                                      artifacts: Path) -> None:
    document_id, before = scan_document(svc, 1)
    [original] = before
    page = open_page()
    attach(page, document_id)
    page.wait_for_function("() => window.harness.large().loaded")

    button(page, "crop").click()
    assert button(page, "apply-crop").is_visible() and button(page, "cancel-crop").is_visible()
    stage = box_of(viewer(page).locator("[part~=page]"))
    x0, y0 = stage["x"] + stage["width"] * 0.2, stage["y"] + stage["height"] * 0.2
    x1, y1 = stage["x"] + stage["width"] * 0.7, stage["y"] + stage["height"] * 0.6
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=8)
    page.mouse.up()
    area = box_of(viewer(page).locator("[part~=crop-area]"))
    assert abs(area["width"] - stage["width"] * 0.5) < 4
    page.screenshot(path=artifacts / "viewer-crop-desktop.png")
    viewer(page).get_by_role("button", name="Apply crop").click()

    edited = wait_event(page, "pageedited")[-1]["page"]
    [after] = server_pages(svc, document_id)
    assert after["version"] == 1 == edited["version"]
    assert abs(after["width"] - original["width"] * 0.5) <= 4, after
    assert abs(after["height"] - original["height"] * 0.4) <= 4, after
    assert not button(page, "apply-crop").is_visible()
    page.wait_for_function(
        "(w) => { const l = window.harness.large(); return l.loaded && l.w <= w; }",
        arg=after["width"])


def test_zoom_and_pan(open_page: OpenPage, svc: Service) -> None:
    document_id, _ = scan_document(svc, 1)
    page = open_page()
    attach(page, document_id)
    page.wait_for_function("() => window.harness.large().loaded")
    img = viewer(page).locator("[part~=page]")
    fit = box_of(img)

    button(page, "zoom-in").click()
    assert page.evaluate("() => window.harness.viewer.zoom") == pytest.approx(1.25)
    assert box_of(img)["width"] == pytest.approx(fit["width"] * 1.25, rel=0.01)
    button(page, "zoom-out").click()
    button(page, "zoom-out").click()
    assert page.evaluate("() => window.harness.viewer.zoom") == pytest.approx(0.8)
    assert box_of(img)["width"] == pytest.approx(fit["width"] * 0.8, rel=0.01)
    button(page, "zoom-reset").click()
    assert page.evaluate("() => window.harness.viewer.zoom") == 1
    assert box_of(img)["width"] == pytest.approx(fit["width"], rel=0.01)

    # Ctrl+wheel over the page zooms; keys too.
    view = box_of(viewer(page).locator("[part~=view]"))
    page.mouse.move(view["x"] + view["width"] / 2, view["y"] + view["height"] / 2)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    page.wait_for_function("() => window.harness.viewer.zoom > 1")
    viewer(page).locator("[part~=view]").focus()
    for _ in range(4):
        page.keyboard.press("+")
    zoom = page.evaluate("() => window.harness.viewer.zoom")
    assert zoom == pytest.approx(1.25 ** 5, rel=0.01)

    # Pan: dragging the zoomed page moves it; arrow keys too.
    start = box_of(img)
    cx, cy = view["x"] + view["width"] / 2, view["y"] + view["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 80, cy + 60, steps=5)
    page.mouse.up()
    moved = box_of(img)
    assert moved["x"] == pytest.approx(start["x"] + 80, abs=2)
    assert moved["y"] == pytest.approx(start["y"] + 60, abs=2)
    page.keyboard.press("ArrowLeft")
    assert box_of(img)["x"] > moved["x"]
    page.keyboard.press("0")
    assert page.evaluate("() => window.harness.viewer.zoom") == 1
    assert box_of(img)["width"] == pytest.approx(fit["width"], rel=0.01)


def test_aria_roles_names_and_selection(open_page: OpenPage, svc: Service) -> None:
    document_id, before = scan_document(svc, 3)
    p1, p2, p3 = ids(before)
    page = open_page()
    attach(page, document_id)
    v = viewer(page)

    listbox = v.get_by_role("listbox", name="Pages")
    assert listbox.get_attribute("aria-multiselectable") == "true"
    options = listbox.get_by_role("option")
    assert options.count() == 3
    assert [options.nth(i).get_attribute("aria-selected") for i in range(3)] == ["false"] * 3
    assert v.get_by_role("option", name="Page 2 of 3").get_attribute("data-page-id") == p2

    # Click, Ctrl+click, Shift+click.
    v.get_by_role("option", name="Page 1 of 3").click()
    v.get_by_role("option", name="Page 3 of 3").click(modifiers=["Control"])
    assert page.evaluate("() => window.harness.viewer.selectedPageIds") == [p1, p3]
    v.get_by_role("option", name="Page 2 of 3").click(modifiers=["Shift"])
    assert page.evaluate("() => window.harness.viewer.selectedPageIds") == [p2, p3]
    assert v.get_by_role("option", selected=True).count() == 2

    # Every button has an accessible name, also those of the crop tool.
    button(page, "crop").click()
    buttons = v.get_by_role("button")
    names = [buttons.nth(i).get_attribute("aria-label") for i in range(buttons.count())]
    assert len(names) >= 9 and all(names), names
    for name in names:
        assert v.get_by_role("button", name=name, exact=True).count() == 1, name
    assert v.get_by_role("button", name="Crop", exact=True).get_attribute("aria-pressed") == "true"
    button(page, "cancel-crop").click()
    group = v.get_by_role("group", name="Page 2 of 3, large view")
    assert group.count() == 1
    snapshot = v.aria_snapshot()
    assert "listbox" in snapshot and 'option "Page 3 of 3" [selected]' in snapshot, snapshot


def test_phone_width_stacks_and_does_not_overflow(open_page: OpenPage, svc: Service,
                                                  artifacts: Path) -> None:
    document_id, before = scan_document(svc, 3)
    desktop = open_page(DESKTOP)
    attach(desktop, document_id)
    thumb(desktop, before[0]["id"]).click()
    desktop.wait_for_function("() => window.harness.large().loaded")
    strip = box_of(viewer(desktop).locator("[part~=strip]"))
    view = box_of(viewer(desktop).locator("[part~=view]"))
    assert strip["x"] + strip["width"] <= view["x"] + 1  # the strip beside the view
    assert viewer(desktop).locator("[part~=strip]").get_attribute("aria-orientation") == "vertical"
    desktop.screenshot(path=artifacts / "viewer-desktop.png")

    phone = open_page(PHONE)
    attach(phone, document_id)
    thumb(phone, before[1]["id"]).click()
    phone.wait_for_function("() => window.harness.large().loaded")
    strip = box_of(viewer(phone).locator("[part~=strip]"))
    view = box_of(viewer(phone).locator("[part~=view]"))
    assert strip["y"] >= view["y"] + view["height"] - 1  # the strip under the view
    assert view["width"] > 300
    assert viewer(phone).locator("[part~=strip]").get_attribute("aria-orientation") == "horizontal"
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    for action in ("rotate-right", "delete", "zoom-in"):
        size = box_of(button(phone, action))
        assert size["width"] >= 40 and size["height"] >= 44, (action, size)
        assert size["x"] + size["width"] <= PHONE["width"]
    tools = box_of(viewer(phone).locator("[part~=toolbar]"))
    assert tools["height"] < 60, "the toolbar should fit in one row at 375 px"
    phone.screenshot(path=artifacts / "viewer-phone.png")


def test_strings_follow_lang_and_fall_back_to_english(open_page: OpenPage, svc: Service) -> None:
    document_id, _ = scan_document(svc, 1)
    german = open_page(lang="de")
    attach(german, document_id)
    german.wait_for_function(
        "() => window.harness.log.events.some((e) => e.type === 'stringsloaded')")
    v = viewer(german)
    assert v.get_by_role("button", name="Nach rechts drehen").count() == 1
    assert v.get_by_role("listbox", name="Seiten").count() == 1
    assert v.get_by_role("option", name="Seite 1 von 1").count() == 1

    from_html = open_page(html_lang="de")
    from_html.wait_for_function(
        "() => window.harness.log.events.some((e) => e.type === 'stringsloaded')")
    assert viewer(from_html).get_by_role("button", name="Zuschneiden").count() == 1

    # The German file cannot be fetched: English names, not keys or nothing.
    context = from_html.context
    context.route("**/viewer-strings/de.json", lambda route: route.fulfill(status=404))
    broken = context.new_page()
    broken.goto(from_html.url.replace("html_lang=de", "html_lang=en") + "&lang=de")
    broken.wait_for_function(
        "() => window.harness && window.harness.log.events.some((e) => e.type === 'stringsloaded')")
    assert viewer(broken).get_by_role("button", name="Rotate right").count() == 1
    broken.close()


def test_client_errors_are_dispatched_and_shown(open_page: OpenPage, svc: Service,
                                                artifacts: Path) -> None:
    document_id, before = scan_document(svc, 2)
    gone = before[0]["id"]
    page = open_page()
    attach(page, document_id)
    with http(svc) as client:  # deleted behind the viewer's back
        assert client.delete(f"/v1/pages/{gone}").status_code == 204

    thumb(page, gone).click()
    button(page, "rotate-left").click()
    [error] = wait_event(page, "error")
    assert error["error"]["status"] == 404 and error["error"]["code"] == "page_not_found", error
    alert = viewer(page).get_by_role("alert")
    assert "page" in alert.inner_text().lower()
    page.screenshot(path=artifacts / "viewer-error-desktop.png")
    # The viewer drops the page the service no longer has.
    page.wait_for_function("(n) => window.harness.viewer.pageIds.length === n", arg=1)
    assert page.evaluate("() => window.harness.viewer.pageIds") == [before[1]["id"]]
    dismiss = viewer(page).get_by_role("button", name="Dismiss message")
    dismiss.click()
    assert viewer(page).locator("[role=alert]").inner_text().strip() == ""
    assert not dismiss.is_visible()


def test_thumbnails_load_lazily_and_the_cache_is_bounded(open_page: OpenPage,
                                                         svc: Service) -> None:
    document_id, before = scan_document(svc, 12)
    page = open_page()
    page.evaluate("() => { window.harness.viewer.style.height = '320px'; "
                  "window.harness.viewer.thumbnailCacheSize = 5; }")
    page.evaluate("(id) => window.harness.attach(id)", document_id)
    page.wait_for_function("() => window.harness.thumbs().filter((t) => t.loaded).length >= 1")
    page.wait_for_timeout(300)
    loaded = [t for t in page.evaluate("() => window.harness.thumbs()") if t["src"]]
    assert 1 <= len(loaded) < 12, len(loaded)
    assert before[-1]["id"] not in {t["id"] for t in loaded}
    first_src = loaded[0]["src"]

    # Scroll to the end: the last thumbnails load, the first ones are dropped and revoked.
    thumb(page, before[-1]["id"]).scroll_into_view_if_needed()
    page.wait_for_function(
        "(id) => window.harness.thumbs().find((t) => t.id === id).loaded", arg=before[-1]["id"])
    page.wait_for_timeout(300)
    alive = [t for t in page.evaluate("() => window.harness.thumbs()") if t["src"]]
    assert len(alive) <= 6, len(alive)  # the cache size, plus the large view's placeholder
    assert page.evaluate("(u) => window.harness.blobAlive(u)", first_src) is False


def test_the_viewer_the_service_serves_works_on_a_foreign_page(open_page: OpenPage,
                                                               svc: Service) -> None:
    """``<service>/sdk/viewer.js`` imported cross-origin: its strings (fetched relative to the
    module) and styles load, and it shows pages like the copy a site bundles."""
    document_id, before = scan_document(svc, 2)
    page = open_page(sdk="service", lang="de")
    attach(page, document_id)
    page.wait_for_function(
        "() => window.harness.log.events.some((e) => e.type === 'stringsloaded')")
    v = viewer(page)
    assert v.get_by_role("option", name="Seite 2 von 2").count() == 1
    assert v.get_by_role("button", name="Nach links drehen").count() == 1
    strip = box_of(v.locator("[part~=strip]"))
    assert strip["width"] < 200  # the shadow styles apply
    loaded = page.evaluate(
        "() => performance.getEntriesByType('resource').map((e) => e.name)"
        ".filter((n) => n.includes('/sdk/'))")
    assert any(n.startswith(svc.url + "/sdk/viewer-strings/de.json") for n in loaded), loaded
    assert any(n.startswith(svc.url + "/sdk/viewer.js") for n in loaded), loaded
    assert [t["id"] for t in page.evaluate("() => window.harness.thumbs()")] == ids(before)
