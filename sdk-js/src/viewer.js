/**
 * `<scanlet-viewer>`: a web component that shows the pages of one Scanlet document, live,
 * and lets the user select, reorder, delete, rotate, crop, zoom and pan them.
 *
 *   import "./viewer.js";                 // defines <scanlet-viewer>
 *   viewer.client = client;                // a Client from scanlet.js connect()
 *   viewer.documentId = "doc_…";           // or the document-id attribute
 *
 * The viewer talks to the service only through its client: pages(), thumbnailUrl(),
 * pageImageUrl(), rotate(), crop(), deletePages(), movePages() or setPageOrder(), and the
 * client's "page" events (pages stored by a running scan). Images arrive as blob: URLs that
 * the viewer revokes when a page goes away, is edited, or leaves the bounded thumbnail cache.
 *
 * No inline scripts, handlers or eval: the module works under
 * `script-src 'self'; img-src 'self' data: blob:`. Styles are a constructed style sheet in the
 * shadow root. User-visible strings live in viewer-strings/<lang>.json beside this module.
 */

const STRINGS_BASE = new URL("./viewer-strings/", import.meta.url);
const FALLBACK_LANG = "en";
const ZOOM_MIN = 0.25;
const ZOOM_MAX = 8;
const ZOOM_STEP = 1.25;
const THUMB_REQUEST = 240;        // longer side (px) asked from the service for a thumbnail
const THUMB_CONCURRENCY = 4;      // thumbnail requests in flight at once
const DEFAULT_THUMB_CACHE = 120;  // thumbnails kept as blob: URLs at most (visible ones always)
const LARGE_STEP = 512;           // large-image request sizes are rounded up to this step
const VIEW_PAD = 16;              // px around the page in the large view at "fit"
const DRAG_THRESHOLD = 6;         // px a mouse moves before a press becomes a drag
const LONG_PRESS_MS = 350;        // touch: hold this long to start dragging a thumbnail
const PAN_STEP = 48;              // px per arrow key when panning
const CROP_STEP = 0.02;           // fraction of the page per arrow key in the crop tool
const MESSAGE_MS = 15000;         // an error message hides itself after this long

const ICONS = {
  "rotate-left": '<polyline points="1 4 1 10 7 10"/><path d="M3.5 15a9 9 0 1 0 2.1-9.4L1 10"/>',
  "rotate-right": '<polyline points="23 4 23 10 17 10"/><path d="M20.5 15a9 9 0 1 1-2.1-9.4L23 10"/>',
  "crop": '<path d="M6.1 1 6 16a2 2 0 0 0 2 2h15"/><path d="M1 6.1 16 6a2 2 0 0 1 2 2v15"/>',
  "apply-crop": '<polyline points="20 6 9 17 4 12"/>',
  "cancel-crop": '<line x1="18" y1="6" x2="6" y2="18"/><line x1="6" y1="6" x2="18" y2="18"/>',
  "delete": '<polyline points="3 6 5 6 21 6"/><path d="M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6"/>' +
            '<path d="M10 11v6M14 11v6M9 6V4a1 1 0 0 1 1-1h4a1 1 0 0 1 1 1v2"/>',
  "zoom-out": '<circle cx="11" cy="11" r="7"/><line x1="21" y1="21" x2="16.6" y2="16.6"/>' +
              '<line x1="8" y1="11" x2="14" y2="11"/>',
  "zoom-in": '<circle cx="11" cy="11" r="7"/><line x1="21" y1="21" x2="16.6" y2="16.6"/>' +
             '<line x1="11" y1="8" x2="11" y2="14"/><line x1="8" y1="11" x2="14" y2="11"/>',
  "zoom-reset": '<path d="M8 3H5a2 2 0 0 0-2 2v3m18 0V5a2 2 0 0 0-2-2h-3m0 18h3a2 2 0 0 0 2-2v-3' +
                'M3 16v3a2 2 0 0 0 2 2h3"/>',
  "dismiss-error": '<line x1="18" y1="6" x2="6" y2="18"/><line x1="6" y1="6" x2="18" y2="18"/>',
  "check": '<polyline points="20 6 9 17 4 12"/>',
};

/** Button action -> string key of its accessible name. */
const BUTTONS = {
  "rotate-left": "rotateLeft", "rotate-right": "rotateRight", "crop": "crop",
  "apply-crop": "applyCrop", "cancel-crop": "cancelCrop", "delete": "delete",
  "zoom-out": "zoomOut", "zoom-in": "zoomIn", "zoom-reset": "zoomReset",
  "dismiss-error": "dismiss",
};

const CSS = `
:host {
  display: block;
  box-sizing: border-box;
  block-size: var(--scanlet-viewer-height, 36rem);
  min-block-size: 18rem;
  container-type: inline-size;
  color: var(--scanlet-viewer-fg, #1f2328);
  background: var(--scanlet-viewer-bg, #f6f8fa);
  font: var(--scanlet-viewer-font, 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif);
  border: 1px solid var(--scanlet-viewer-border, #d0d7de);
  border-radius: var(--scanlet-viewer-radius, 8px);
  overflow: hidden;
  --_accent: var(--scanlet-viewer-accent, #0b63ce);
  --_focus: var(--scanlet-viewer-focus, #0b63ce);
  --_thumb: var(--scanlet-viewer-thumb-size, 112px);
  --_surface: var(--scanlet-viewer-surface, #ffffff);
  --_line: var(--scanlet-viewer-border, #d0d7de);
}
:host([hidden]) { display: none; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
.viewer {
  display: grid;
  block-size: 100%;
  grid-template-columns: calc(var(--_thumb) + 28px) minmax(0, 1fr);
  grid-template-rows: auto minmax(0, 1fr) auto;
  grid-template-areas: "tools tools" "strip view" "msg msg";
}
.tools {
  grid-area: tools;
  display: flex; flex-wrap: wrap; align-items: center; gap: 2px 4px;
  padding: 4px 6px;
  background: var(--_surface);
  border-block-end: 1px solid var(--_line);
  position: relative;
}
.sep { inline-size: 1px; align-self: stretch; margin: 6px 4px; background: var(--_line); }
.count { margin-inline-start: auto; padding-inline: 6px; font-size: 0.9em; opacity: 0.8; white-space: nowrap; }
.zoom-level { min-inline-size: 4.5ch; text-align: center; font-variant-numeric: tabular-nums; font-size: 0.9em; }
button {
  font: inherit; color: inherit;
  display: inline-flex; align-items: center; justify-content: center;
  min-inline-size: 40px; block-size: 40px; padding: 0 8px;
  border: 1px solid transparent; border-radius: 6px;
  background: transparent; cursor: pointer;
}
button:hover:not(:disabled) { background: color-mix(in srgb, currentColor 8%, transparent); }
button:active:not(:disabled) { background: color-mix(in srgb, currentColor 14%, transparent); }
button:disabled { opacity: 0.38; cursor: default; }
button[aria-pressed="true"] {
  border-color: var(--_accent);
  background: color-mix(in srgb, var(--_accent) 14%, transparent);
}
button.primary { color: #fff; background: var(--_accent); }
button.primary:hover:not(:disabled) { background: color-mix(in srgb, var(--_accent) 85%, #000); }
svg { inline-size: 20px; block-size: 20px; fill: none; stroke: currentColor; stroke-width: 2;
      stroke-linecap: round; stroke-linejoin: round; flex: none; pointer-events: none; }
:focus { outline: none; }
:focus-visible { outline: 3px solid var(--_focus); outline-offset: 2px; }
.busy {
  position: absolute; inset-inline: 0; inset-block-end: -1px; block-size: 2px;
  background: var(--_accent); transform-origin: left; opacity: 0;
}
.viewer[aria-busy="true"] .busy { opacity: 1; animation: busy 1s ease-in-out infinite alternate; }
@keyframes busy { from { transform: scaleX(0.1); } to { transform: scaleX(1); } }
.view {
  grid-area: view;
  position: relative; overflow: hidden;
  background: var(--scanlet-viewer-view-bg, #e7eaee);
  touch-action: pan-x pan-y; user-select: none; -webkit-user-select: none;
}
.view.zoomed, .view.cropping { touch-action: none; }
.view:focus-visible { outline-offset: -3px; }
.view.zoomed { cursor: grab; }
.view.panning { cursor: grabbing; }
.view.cropping { cursor: crosshair; }
.stage { position: absolute; left: 50%; top: 50%; transform: translate(-50%, -50%); }
.stage img {
  display: block; inline-size: 100%; block-size: 100%;
  background: #fff; box-shadow: 0 1px 4px rgb(0 0 0 / 0.3);
  -webkit-user-drag: none;
}
.crop {
  position: absolute;
  border: 2px dashed #fff;
  outline: 1px solid rgb(0 0 0 / 0.7);
  box-shadow: 0 0 0 100vmax rgb(0 0 0 / 0.45);
  cursor: move;
}
.empty {
  position: absolute; inset: 0; margin: 0; padding: 1rem;
  display: grid; place-items: center; text-align: center; opacity: 0.75;
}
.strip {
  grid-area: strip;
  list-style: none; margin: 0; padding: 8px 6px;
  display: flex; flex-direction: column; align-items: center; gap: 8px;
  overflow-y: auto; overflow-x: hidden; overscroll-behavior: contain;
  background: var(--_surface);
  border-inline-end: 1px solid var(--_line);
  user-select: none; -webkit-user-select: none;
  scroll-padding: 8px;
}
.thumb {
  position: relative; flex: none;
  inline-size: var(--_thumb);
  padding: 4px; border: 2px solid transparent; border-radius: 6px;
  cursor: pointer; -webkit-touch-callout: none;
}
.thumb:hover { background: color-mix(in srgb, currentColor 6%, transparent); }
.thumb.current { border-color: color-mix(in srgb, currentColor 35%, transparent); }
.thumb[aria-selected="true"] {
  border-color: var(--_accent);
  background: color-mix(in srgb, var(--_accent) 14%, transparent);
}
.frame {
  display: grid; place-items: center; inline-size: 100%;
  aspect-ratio: 210 / 297; overflow: hidden;
  background: #fff; box-shadow: 0 1px 3px rgb(0 0 0 / 0.25);
}
.frame img { display: block; max-inline-size: 100%; max-block-size: 100%; -webkit-user-drag: none; }
.thumb:not(.loaded) .frame { background: linear-gradient(135deg, #fff, #eef1f4); }
.thumb.failed .frame { background: repeating-linear-gradient(45deg, #fff 0 6px, #f3d6d6 6px 8px); }
.label { display: block; text-align: center; font-size: 12px; margin-block-start: 2px; font-variant-numeric: tabular-nums; }
.check {
  position: absolute; inset-block-start: 6px; inset-inline-end: 6px;
  display: none; place-items: center; inline-size: 20px; block-size: 20px; border-radius: 50%;
  background: var(--_accent); color: #fff;
}
.check svg { inline-size: 14px; block-size: 14px; stroke-width: 3; }
.thumb[aria-selected="true"] .check { display: grid; }
.strip.reordering .thumb { cursor: grabbing; }
.thumb.dragging { opacity: 0.4; }
.thumb.drop-before::before, .thumb.drop-after::after {
  content: ""; position: absolute; inset-inline: 0; block-size: 3px; border-radius: 2px;
  background: var(--_accent);
}
.thumb.drop-before::before { inset-block-start: -6px; }
.thumb.drop-after::after { inset-block-end: -6px; }
.msg { grid-area: msg; }
.msg-inner {
  display: flex; align-items: center; gap: 8px;
  padding: 2px 4px 2px 12px;
  background: var(--scanlet-viewer-error-bg, #fff1f0);
  color: var(--scanlet-viewer-error-fg, #a40e26);
  border-block-start: 1px solid currentColor;
}
.alert { flex: 1; min-inline-size: 0; overflow-wrap: anywhere; }
.msg:not(.shown) .msg-inner { block-size: 0; padding: 0; border: 0; overflow: hidden; }
.msg:not(.shown) button { visibility: hidden; }
.sr-only {
  position: absolute; inline-size: 1px; block-size: 1px; margin: -1px; padding: 0; border: 0;
  overflow: hidden; clip-path: inset(50%); white-space: nowrap;
}
@container (max-width: 599.98px) {
  .viewer {
    grid-template-columns: minmax(0, 1fr);
    grid-template-rows: auto minmax(0, 1fr) auto auto;
    grid-template-areas: "tools" "view" "strip" "msg";
  }
  .strip {
    --_thumb: var(--scanlet-viewer-thumb-size-small, 64px);
    flex-direction: row; align-items: flex-start;
    overflow-x: auto; overflow-y: hidden;
    border-inline-end: 0; border-block-start: 1px solid var(--_line);
    padding: 6px 8px;
  }
  .thumb.drop-before::before, .thumb.drop-after::after {
    inset-inline: auto; inset-block: 0; inline-size: 3px; block-size: auto;
  }
  .thumb.drop-before::before { inset-inline-start: -6px; }
  .thumb.drop-after::after { inset-inline-end: -6px; }
  button { min-inline-size: 40px; block-size: 44px; padding: 0 4px; }
  .tools { gap: 0 2px; padding: 2px 4px; }
  .sep { display: none; }
  .count { inline-size: 100%; margin: 0; padding: 0 4px 2px; text-align: end; }
}
@container (max-width: 419.98px) {
  .zoom-level, .count { display: none; }
}
@media (prefers-reduced-motion: reduce) {
  .viewer[aria-busy="true"] .busy { animation: none; }
}
@media (forced-colors: active) {
  .thumb[aria-selected="true"] { outline: 3px solid Highlight; }
  .check { forced-color-adjust: none; background: Highlight; color: HighlightText; }
  .crop { border-color: Highlight; }
}
`;

let sharedSheet = null;

function styleFor(root) {
  if (typeof CSSStyleSheet === "function" && "adoptedStyleSheets" in root) {
    try {
      if (!sharedSheet) {
        sharedSheet = new CSSStyleSheet();
        sharedSheet.replaceSync(CSS);
      }
      root.adoptedStyleSheets = [sharedSheet];
      return;
    } catch (_) {
      // fall through to a <style> element
    }
  }
  const style = document.createElement("style");
  style.textContent = CSS;
  root.append(style);
}

// Strings -----------------------------------------------------------------------------------

const stringFiles = new Map();

/** One language's strings (an object), or null when the file cannot be fetched. */
function fetchStrings(lang) {
  let promise = stringFiles.get(lang);
  if (!promise) {
    promise = fetch(new URL(`${lang}.json`, STRINGS_BASE), { credentials: "omit" })
      .then((response) => (response.ok ? response.json() : null))
      .then((value) => (value && typeof value === "object" && !Array.isArray(value) ? value : null))
      .catch(() => null);
    stringFiles.set(lang, promise);
    promise.then((value) => { if (!value) stringFiles.delete(lang); });
  }
  return promise;
}

/** The primary subtag of a language tag ("de-AT" -> "de"), or null when it is not one. */
function baseLang(tag) {
  const match = /^([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]{1,8})*$/.exec(String(tag || "").trim());
  return match ? match[1].toLowerCase() : null;
}

/** English as the base, the wanted language over it; keys stand in when both fail. */
async function loadStrings(lang) {
  const [base, own] = await Promise.all([
    fetchStrings(FALLBACK_LANG),
    lang === FALLBACK_LANG ? Promise.resolve(null) : fetchStrings(lang),
  ]);
  return { ...(base || {}), ...(own || {}) };
}

// Helpers -----------------------------------------------------------------------------------

const clamp = (value, low, high) => Math.min(high, Math.max(low, value));

function sameList(a, b) {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/** What identifies one rendition of a page: a new version, size or file is a new image. */
function versionKey(page) {
  return `${page.version ?? 0}:${page.width}x${page.height}:${page.bytes ?? ""}`;
}

/** The PageInfo in an answer that is a PageInfo or {page, report}. */
function pageOf(answer) {
  if (answer && typeof answer === "object" && answer.page && answer.page.id) return answer.page;
  return answer;
}

function errorText(error) {
  if (!error) return "";
  const parts = [error.title, error.message, error.guidance].filter(
    (part, i, all) => typeof part === "string" && part && all.indexOf(part) === i);
  return parts.length ? parts.join(" – ") : String(error);
}

const Base = typeof HTMLElement === "undefined" ? class {} : HTMLElement;

// The element -------------------------------------------------------------------------------

export class ScanletViewer extends Base {
  static get observedAttributes() { return ["document-id", "lang"]; }

  constructor() {
    super();
    this._client = null;
    this._documentId = null;
    this._pages = [];
    this._byId = new Map();
    this._selected = new Set();
    this._focusId = null;
    this._anchorId = null;
    this._items = new Map();
    this._thumbs = new Map();
    this._visible = new Set();
    this._tick = 0;
    this._thumbActive = 0;
    this._thumbWaiters = [];
    this._large = null;
    this._largeSeq = 0;
    this._largeTimer = 0;
    this._zoom = 1;
    this._panX = 0;
    this._panY = 0;
    this._crop = null;
    this._cropping = false;
    this._pointer = null;
    this._drag = null;
    this._strings = {};
    this._stringsLang = null;
    this._stringsSeq = 0;
    this._queue = Promise.resolve();
    this._pending = 0;
    this._loadSeq = 0;
    this._loading = false;
    this._live = null;
    this._messageTimer = 0;
    this._suppressClick = false;
    this._horizontal = false;
    this._rtl = false;
    this.thumbnailCacheSize = DEFAULT_THUMB_CACHE;

    this._onClientPage = (event) => this._livePage(event);

    const root = this.attachShadow({ mode: "open" });
    styleFor(root);
    const shell = document.createElement("div");
    shell.className = "viewer";
    shell.setAttribute("part", "root");
    shell.innerHTML = this._markup();
    root.append(shell);
    this._root = shell;
    this._tools = shell.querySelector(".tools");
    this._view = shell.querySelector(".view");
    this._stage = shell.querySelector(".stage");
    this._img = shell.querySelector(".stage img");
    this._cropBox = shell.querySelector(".crop");
    this._empty = shell.querySelector(".empty");
    this._strip = shell.querySelector(".strip");
    this._msg = shell.querySelector(".msg");
    this._alert = shell.querySelector(".alert");
    this._status = shell.querySelector(".status");
    this._count = shell.querySelector(".count");
    this._zoomLabel = shell.querySelector(".zoom-level");
    this._buttons = {};
    for (const button of shell.querySelectorAll("button[data-action]")) {
      this._buttons[button.dataset.action] = button;
    }
    this._wire();
  }

  _markup() {
    const button = (action, extra = "") =>
      `<button type="button" part="button ${action}" data-action="${action}" ${extra}>` +
      `<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">${ICONS[action]}</svg></button>`;
    return `
      <div class="tools" part="toolbar" role="group">
        ${button("rotate-left")}${button("rotate-right")}
        ${button("crop", 'aria-pressed="false"')}
        ${button("apply-crop", "hidden")}${button("cancel-crop", "hidden")}
        ${button("delete")}
        <span class="sep" aria-hidden="true"></span>
        ${button("zoom-out")}<span class="zoom-level" part="zoom-level" aria-hidden="true">100%</span>
        ${button("zoom-in")}${button("zoom-reset")}
        <span class="count" part="count" aria-hidden="true"></span>
        <span class="busy" part="busy" aria-hidden="true"></span>
      </div>
      <div class="view" part="view" tabindex="0" role="group" aria-describedby="view-help">
        <div class="stage" part="stage" hidden>
          <img part="page" alt="" draggable="false">
          <div class="crop" part="crop-area" hidden></div>
        </div>
        <p class="empty" part="empty"></p>
      </div>
      <ul class="strip" part="strip" role="listbox" aria-multiselectable="true"
          aria-orientation="vertical" aria-describedby="strip-help"></ul>
      <div class="msg" part="message">
        <div class="msg-inner"><span class="alert" role="alert"></span>
          ${button("dismiss-error")}</div>
      </div>
      <div class="status sr-only" role="status" aria-live="polite"></div>
      <div class="sr-only" id="strip-help"></div>
      <div class="sr-only" id="view-help"></div>
      <div class="sr-only" id="crop-help"></div>`;
  }

  // Lifecycle --------------------------------------------------------------------------------

  connectedCallback() {
    for (const name of ["client", "documentId", "selectedPageIds", "zoom"]) {
      if (Object.prototype.hasOwnProperty.call(this, name)) {
        const value = this[name];
        delete this[name];
        this[name] = value;
      }
    }
    if (typeof IntersectionObserver === "function") {
      this._io = new IntersectionObserver((entries) => this._intersections(entries),
                                          { root: this._strip, rootMargin: "200px" });
      for (const li of this._items.values()) this._io.observe(li);
    }
    if (typeof ResizeObserver === "function") {
      this._ro = new ResizeObserver(() => this._resized());
      this._ro.observe(this._view);
      this._ro.observe(this);
    }
    this._listen(this._client);
    this._loadLang();
    this._resized();
    if (this._client && this._documentId && !this._pages.length) this.refresh().catch(() => {});
    else this._renderAll();
  }

  disconnectedCallback() {
    this._unlisten(this._client);
    if (this._io) this._io.disconnect();
    if (this._ro) this._ro.disconnect();
    this._io = null;
    this._ro = null;
    this._endDrag(false);
    for (const id of [...this._thumbs.keys()]) this._dropThumb(id);
    this._dropLarge();
    for (const li of this._items.values()) li.classList.remove("loaded");
  }

  attributeChangedCallback(name, old, value) {
    if (old === value) return;
    if (name === "document-id") this.documentId = value;
    else if (name === "lang" && this.isConnected) this._loadLang();
  }

  // Properties -------------------------------------------------------------------------------

  /** The Client (from scanlet.js) the viewer works through. */
  get client() { return this._client; }
  set client(client) {
    if (client === this._client) return;
    this._unlisten(this._client);
    this._client = client || null;
    if (this.isConnected) this._listen(this._client);
    this._reset();
    if (this.isConnected && this._client && this._documentId) this.refresh().catch(() => {});
  }

  /** The document shown; setting it (re)loads the pages. */
  get documentId() { return this._documentId; }
  set documentId(id) {
    const value = id ? String(id) : null;
    if (value === this._documentId) return;
    this._documentId = value;
    this._reset();
    if (this.isConnected && this._client && value) this.refresh().catch(() => {});
  }

  /** Page ids in the order shown. */
  get pageIds() { return this._pages.map((page) => page.id); }

  /** The pages shown (PageInfo objects as the service answered them), in order. */
  get pages() { return this._pages.map((page) => ({ ...page })); }

  /** Ids of the selected pages, in the order shown. */
  get selectedPageIds() { return this._pages.filter((p) => this._selected.has(p.id)).map((p) => p.id); }
  set selectedPageIds(ids) { this.select(ids || []); }

  /** The page in the large view (the focused thumbnail). */
  get currentPageId() { return this._focusId; }
  set currentPageId(id) { if (this._byId.has(id)) this._setFocus(id, { dom: false }); }

  /** Zoom of the large view: 1 fits the page into the view. */
  get zoom() { return this._zoom; }
  set zoom(value) { this._setZoom(Number(value) || 1); }

  /** True while a change is being sent to the service. */
  get busy() { return this._pending > 0; }

  // Public methods ---------------------------------------------------------------------------

  /** Load the document's pages from the service again. */
  refresh() { return this._run(() => this._reload()); }

  /** Select exactly these pages. */
  select(ids) {
    const wanted = new Set([...ids].filter((id) => this._byId.has(id)));
    this._commitSelection(wanted);
    const first = this._pages.find((p) => wanted.has(p.id));
    if (first) { this._anchorId = first.id; this._setFocus(first.id, { dom: false }); }
  }

  selectAll() { this._commitSelection(new Set(this.pageIds)); }
  clearSelection() { this._commitSelection(new Set()); }

  /** Show a page in the large view (and move the strip's focus to it). */
  showPage(id) { if (this._byId.has(id)) this._setFocus(id, { dom: false, scroll: true }); }

  /**
   * Rotate pages (default: the selection, else the current page) by `angle` degrees
   * counter-clockwise, the service's convention: 90 turns a page left, 270 (or -90) right.
   */
  rotate(angle, ids) {
    return this._run(() => this._doRotate(angle, ids ? [...ids] : this._targets()));
  }
  rotateLeft(ids) { return this.rotate(90, ids); }
  rotateRight(ids) { return this.rotate(270, ids); }

  /** Delete pages (default: the selection, else the current page) on the service. */
  deletePages(ids) { return this._run(() => this._doDelete(ids ? [...ids] : this._targets())); }

  /** Move pages so the first of them lands at `toIndex` (their relative order is kept). */
  movePages(ids, toIndex) { return this._run(() => this._doMove([...ids], toIndex)); }

  zoomIn() { this._setZoom(this._zoom * ZOOM_STEP); }
  zoomOut() { this._setZoom(this._zoom / ZOOM_STEP); }
  resetZoom() { this._setZoom(1); this._panX = 0; this._panY = 0; this._layout(); }

  /**
   * Start the crop tool on the current page; `rect` ({x0, y0, x1, y1}, fractions of the
   * page) preselects an area, else the user drags one (or arrow keys make one).
   */
  startCrop(rect) {
    const page = this._byId.get(this._focusId);
    if (!page) return;
    this._cropping = true;
    this._crop = rect ? {
      x0: clamp(Math.min(rect.x0, rect.x1), 0, 1), y0: clamp(Math.min(rect.y0, rect.y1), 0, 1),
      x1: clamp(Math.max(rect.x0, rect.x1), 0, 1), y1: clamp(Math.max(rect.y0, rect.y1), 0, 1),
    } : null;
    this._view.classList.add("cropping");
    this._renderCrop();
    this._syncTools();
    this._view.setAttribute("aria-describedby", "crop-help");
  }

  /** Crop the current page to the crop tool's rectangle, or to `box` ([l, t, r, b] px). */
  applyCrop(box) {
    const page = this._byId.get(this._focusId);
    if (!page || (!box && !this._crop)) return Promise.resolve();
    const rect = this._crop;
    const pixels = box || [
      Math.round(rect.x0 * page.width), Math.round(rect.y0 * page.height),
      Math.round(rect.x1 * page.width), Math.round(rect.y1 * page.height),
    ];
    this.cancelCrop();
    return this._run(() => this._doCrop(page.id, pixels));
  }

  cancelCrop() {
    if (!this._cropping) return;
    this._cropping = false;
    this._crop = null;
    this._view.classList.remove("cropping");
    this._renderCrop();
    this._syncTools();
    this._view.setAttribute("aria-describedby", "view-help");
  }

  // Client wiring ----------------------------------------------------------------------------

  _listen(client) {
    if (client && typeof client.addEventListener === "function") {
      client.addEventListener("page", this._onClientPage);
    }
  }

  _unlisten(client) {
    if (client && typeof client.removeEventListener === "function") {
      client.removeEventListener("page", this._onClientPage);
    }
  }

  _livePage(event) {
    const page = event && event.detail && event.detail.page;
    if (!page || !page.id) return;
    if (!this._documentId && page.document_id) {
      // No document chosen: follow the first scan that stores pages.
      this._documentId = String(page.document_id);
      this._reset();
      this.refresh().catch(() => {});
    }
    if (page.document_id !== this._documentId) return;
    if (this._live) this._live.set(page.id, page);
    if (this._byId.has(page.id)) { this._updatePage(page); return; }
    const list = this._pages.slice();
    const at = Number.isInteger(page.index) && page.index >= 0 && page.index < list.length
      ? page.index : list.length;
    list.splice(at, 0, page);
    this._setPages(list);
    this._announce(this._t("pageAdded", { n: at + 1 }));
    this._emit("pageadded", { page });
  }

  _reset() {
    this._loadSeq++;
    this._setPages([]);
    this._focusId = null;
    this._anchorId = null;
    this._dropLarge();
    this._zoom = 1;
    this._panX = 0;
    this._panY = 0;
    this._crop = null;
    this._cropping = false;
    this._view.classList.remove("cropping");
    this._renderAll();
  }

  // Operations -------------------------------------------------------------------------------

  /** Run an operation after the ones before it; errors are dispatched and shown. */
  _run(fn) {
    const task = this._queue.then(async () => {
      this._setPending(+1);
      try {
        return await fn();
      } catch (error) {
        this._fail(error);
        // A page or document gone from the service: show what is there now.
        if (error && error.status === 404 && this._documentId) await this._reload().catch(() => {});
        throw error;
      } finally {
        this._setPending(-1);
      }
    });
    this._queue = task.then(() => undefined, () => undefined);
    return task;
  }

  _setPending(delta) {
    this._pending += delta;
    if (this._pending > 0) this._root.setAttribute("aria-busy", "true");
    else this._root.removeAttribute("aria-busy");
  }

  _requireClient() {
    if (!this._client) throw new Error("scanlet-viewer: no client");
    if (!this._documentId) throw new Error("scanlet-viewer: no documentId");
    return this._client;
  }

  async _reload() {
    const client = this._client;
    const documentId = this._documentId;
    if (!client || !documentId) { this._setPages([]); return; }
    const seq = ++this._loadSeq;
    this._live = new Map();
    this._loading = true;
    this._renderEmpty();
    try {
      const list = await client.pages(documentId);
      if (seq !== this._loadSeq) return;
      const merged = Array.isArray(list) ? list.slice() : [];
      for (const page of this._live.values()) {
        if (!merged.some((p) => p.id === page.id)) merged.push(page);
      }
      this._setPages(merged);
    } finally {
      if (seq === this._loadSeq) {
        this._loading = false;
        this._live = null;
        this._renderEmpty();
      }
    }
  }

  _targets() {
    const selected = this.selectedPageIds;
    if (selected.length) return selected;
    return this._focusId ? [this._focusId] : [];
  }

  async _doRotate(angle, ids) {
    const client = this._requireClient();
    const targets = ids.filter((id) => this._byId.has(id));
    for (const id of targets) {
      const page = pageOf(await client.rotate(id, angle));
      if (page && page.id) {
        this._updatePage(page);
        this._emit("pageedited", { page });
      }
    }
    if (targets.length) this._announce(this._t("pagesRotated", { count: targets.length }));
  }

  async _doCrop(id, box) {
    const client = this._requireClient();
    const page = pageOf(await client.crop(id, box));
    if (page && page.id) {
      this._updatePage(page);
      this._emit("pageedited", { page });
      this._announce(this._t("pageCropped", { n: this.pageIds.indexOf(page.id) + 1 }));
    }
  }

  async _doDelete(ids) {
    const client = this._requireClient();
    const documentId = this._documentId;
    const doomed = ids.filter((id) => this._byId.has(id));
    if (!doomed.length) return;
    const order = this.pageIds;
    const focusAt = Math.max(0, order.indexOf(this._focusId));
    try {
      await client.deletePages(documentId, doomed);
    } catch (error) {
      await this._reload().catch(() => {});
      throw error;
    }
    const list = await client.pages(documentId);
    const left = new Set(list.map((p) => p.id));
    const next = order.slice(focusAt).find((id) => left.has(id))
      ?? order.slice(0, focusAt).reverse().find((id) => left.has(id)) ?? null;
    this._focusId = next;
    this._anchorId = next;
    const selection = new Set([...this._selected].filter((id) => left.has(id)));
    this._setPages(list);
    this._commitSelection(selection);
    this._emit("pagedeleted", { pageIds: doomed });
    this._announce(this._t("pagesDeleted", { count: doomed.length }));
  }

  async _doMove(ids, toIndex) {
    const client = this._requireClient();
    const documentId = this._documentId;
    const order = this.pageIds;
    const wanted = new Set(ids);
    const moving = order.filter((id) => wanted.has(id));
    if (!moving.length) return;
    const rest = order.filter((id) => !wanted.has(id));
    const to = clamp(Math.round(Number(toIndex) || 0), 0, rest.length);
    const next = [...rest.slice(0, to), ...moving, ...rest.slice(to)];
    if (sameList(next, order)) return;
    this._setPages(next.map((id) => this._byId.get(id)));  // at once; the answer follows
    let answer;
    try {
      if (typeof client.movePages === "function") {
        answer = await client.movePages(documentId, moving, to);
      } else {
        answer = await client.setPageOrder(documentId, next);
      }
    } catch (error) {
      await this._reload().catch(() => {});
      throw error;
    }
    if (Array.isArray(answer)) this._setPages(answer);
    else await this._reload();
    this._emit("orderchange", { pageIds: this.pageIds });
    this._announce(this._t("pagesMoved", { n: this.pageIds.indexOf(moving[0]) + 1 }));
  }

  /** Move the selection (or the current page) one place back (-1) or on (+1). */
  _moveBy(delta) {
    return this._run(() => {
      const ids = this._targets();
      const order = this.pageIds;
      const wanted = new Set(ids);
      const firstAt = order.findIndex((id) => wanted.has(id));
      if (firstAt < 0) return undefined;
      const before = order.slice(0, firstAt).filter((id) => !wanted.has(id)).length;
      return this._doMove(ids, delta === Infinity ? order.length : delta === -Infinity ? 0 : before + delta);
    });
  }

  // Page list and rendering ------------------------------------------------------------------

  _setPages(list) {
    const pages = list.filter((p) => p && p.id);
    this._pages = pages;
    this._byId = new Map(pages.map((p) => [p.id, p]));
    const before = this._selected.size;
    for (const id of [...this._selected]) if (!this._byId.has(id)) this._selected.delete(id);
    for (const [id, entry] of [...this._thumbs]) {
      const page = this._byId.get(id);
      if (!page) this._dropThumb(id);
      else if (entry.key !== versionKey(page) && !this._visible.has(id)) this._dropThumb(id);
    }
    if (this._focusId && !this._byId.has(this._focusId)) this._focusId = null;
    if (!this._focusId && pages.length) this._focusId = pages[0].id;
    if (this._anchorId && !this._byId.has(this._anchorId)) this._anchorId = this._focusId;
    this._renderAll();
    for (const id of this._visible) this._ensureThumb(id);
    if (this._selected.size !== before) this._emit("selectionchange", { pageIds: this.selectedPageIds });
  }

  _updatePage(page) {
    if (!this._byId.has(page.id)) return;
    this._setPages(this._pages.map((p) => (p.id === page.id ? { ...p, ...page } : p)));
  }

  _renderAll() {
    this._renderStrip();
    this._renderView();
    this._syncTools();
    this._renderEmpty();
  }

  _renderStrip() {
    const strip = this._strip;
    const active = this.shadowRoot.activeElement;
    const focusWasInStrip = !!active && strip.contains(active);
    for (const [id, li] of [...this._items]) {
      if (!this._byId.has(id)) {
        if (this._io) this._io.unobserve(li);
        li.remove();
        this._items.delete(id);
        this._visible.delete(id);
      }
    }
    let ref = strip.firstElementChild;
    for (const page of this._pages) {
      let li = this._items.get(page.id);
      if (!li) {
        li = this._makeItem(page.id);
        this._items.set(page.id, li);
        strip.insertBefore(li, ref);
        if (this._io) this._io.observe(li);
        else this._visible.add(page.id);
      } else if (li === ref) {
        ref = ref.nextElementSibling;
      } else {
        strip.insertBefore(li, ref);
      }
    }
    const total = this._pages.length;
    this._pages.forEach((page, i) => {
      const li = this._items.get(page.id);
      li.setAttribute("aria-label", this._t("pageOption", { n: i + 1, total }));
      li.setAttribute("aria-selected", this._selected.has(page.id) ? "true" : "false");
      li.setAttribute("aria-posinset", String(i + 1));
      li.setAttribute("aria-setsize", String(total));
      li.tabIndex = page.id === this._focusId ? 0 : -1;
      li.classList.toggle("current", page.id === this._focusId);
      li.querySelector(".label").textContent = String(i + 1);
      if (page.width > 0 && page.height > 0) {
        li.firstElementChild.style.aspectRatio = `${page.width} / ${page.height}`;
      }
    });
    strip.setAttribute("aria-label", this._t("pages"));
    if (focusWasInStrip) {
      const now = this.shadowRoot.activeElement;
      if (!now || !strip.contains(now)) {
        const li = this._items.get(this._focusId);
        if (li) li.focus({ preventScroll: true });
        else if (active && active.isConnected) active.focus({ preventScroll: true });
      }
    }
    const selected = this._selected.size;
    this._count.textContent = total
      ? (selected ? this._t("selected", { count: selected, total }) : "") : "";
  }

  _makeItem(id) {
    const li = document.createElement("li");
    li.className = "thumb";
    li.setAttribute("role", "option");
    li.setAttribute("part", "thumb");
    li.dataset.pageId = id;
    li.tabIndex = -1;
    li.innerHTML = '<span class="frame" part="thumb-frame"><img part="thumb-image" alt="" ' +
      'draggable="false"></span><span class="label" part="thumb-label" aria-hidden="true"></span>' +
      '<span class="check" aria-hidden="true"><svg viewBox="0 0 24 24" focusable="false">' +
      `${ICONS.check}</svg></span>`;
    const entry = this._thumbs.get(id);
    if (entry && entry.url) this._showThumb(id, entry.url);
    return li;
  }

  _renderEmpty() {
    const none = !this._pages.length;
    this._empty.hidden = !none;
    this._empty.textContent = none ? this._t(this._loading ? "loading" : "noPages") : "";
  }

  _syncTools() {
    const hasPage = this._byId.has(this._focusId);
    const cropping = this._cropping;
    const b = this._buttons;
    b["rotate-left"].disabled = !hasPage || cropping;
    b["rotate-right"].disabled = !hasPage || cropping;
    b["delete"].disabled = !hasPage || cropping;
    b["crop"].disabled = !hasPage;
    b["crop"].setAttribute("aria-pressed", cropping ? "true" : "false");
    b["apply-crop"].hidden = !cropping;
    b["cancel-crop"].hidden = !cropping;
    b["apply-crop"].disabled = !this._crop;
    b["apply-crop"].classList.add("primary");
    b["zoom-in"].disabled = !hasPage || this._zoom >= ZOOM_MAX;
    b["zoom-out"].disabled = !hasPage || this._zoom <= ZOOM_MIN;
    b["zoom-reset"].disabled = !hasPage;
    this._zoomLabel.textContent = `${Math.round(this._zoom * 100)}%`;
    // A button that just became disabled or hidden loses the focus: keep it in the viewer.
    const focused = this.shadowRoot.activeElement;
    if (focused && focused.tagName === "BUTTON" && (focused.disabled || focused.hidden)) {
      this._view.focus({ preventScroll: true });
    }
  }

  // Strings ----------------------------------------------------------------------------------

  _effectiveLang() {
    const own = this.getAttribute("lang");
    if (own) return baseLang(own) || FALLBACK_LANG;
    const holder = this.parentElement && this.parentElement.closest("[lang]");
    const tag = (holder && holder.getAttribute("lang"))
      || (typeof document !== "undefined" && document.documentElement.getAttribute("lang"));
    return baseLang(tag) || FALLBACK_LANG;
  }

  async _loadLang() {
    const lang = this._effectiveLang();
    if (lang === this._stringsLang) { this._applyStrings(); return; }
    const seq = ++this._stringsSeq;
    const strings = await loadStrings(lang);
    if (seq !== this._stringsSeq) return;
    this._strings = strings;
    this._stringsLang = lang;
    this._applyStrings();
    this._emit("stringsloaded", { lang });
  }

  _t(key, values) {
    const text = Object.prototype.hasOwnProperty.call(this._strings, key)
      ? String(this._strings[key]) : key;
    return values ? text.replace(/\{(\w+)\}/g, (all, name) =>
      (Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : all)) : text;
  }

  _applyStrings() {
    for (const [action, key] of Object.entries(BUTTONS)) {
      const button = this._buttons[action];
      if (!button) continue;
      button.setAttribute("aria-label", this._t(key));
      button.title = this._t(key);
    }
    this._root.setAttribute("aria-label", this._t("viewer"));
    this._root.setAttribute("role", "region");
    this._tools.setAttribute("aria-label", this._t("tools"));
    this.shadowRoot.getElementById("strip-help").textContent = this._t("stripHelp");
    this.shadowRoot.getElementById("view-help").textContent = this._t("viewHelp");
    this.shadowRoot.getElementById("crop-help").textContent = this._t("cropHelp");
    this._renderAll();
  }

  // Thumbnails -------------------------------------------------------------------------------

  _intersections(entries) {
    for (const entry of entries) {
      const id = entry.target.dataset.pageId;
      if (entry.isIntersecting) {
        this._visible.add(id);
        this._ensureThumb(id);
      } else {
        this._visible.delete(id);
      }
    }
  }

  _ensureThumb(id) {
    const page = this._byId.get(id);
    const client = this._client;
    if (!page || !client || !this.isConnected) return;
    const key = versionKey(page);
    let entry = this._thumbs.get(id);
    if (entry && entry.key === key) {
      entry.used = ++this._tick;
      return;
    }
    let stale = null;
    if (entry) {
      entry.cancelled = true;
      stale = entry.url || entry.stale;
      entry.stale = null;
    }
    entry = { key, url: null, stale, used: ++this._tick, cancelled: false, failed: false };
    this._thumbs.set(id, entry);
    this._withThumbSlot(() => (entry.cancelled ? null : client.thumbnailUrl(id, THUMB_REQUEST)))
      .then((url) => {
        if (!url) return;
        if (entry.cancelled || this._thumbs.get(id) !== entry) {
          URL.revokeObjectURL(url);
          return;
        }
        entry.url = url;
        this._showThumb(id, url);
        if (entry.stale) { URL.revokeObjectURL(entry.stale); entry.stale = null; }
        if (this._focusId === id && !(this._large && this._large.id === id)) this._img.src = url;
        this._evictThumbs();
      }, (error) => {
        if (entry.cancelled || this._thumbs.get(id) !== entry) return;
        entry.failed = true;
        if (entry.stale) { URL.revokeObjectURL(entry.stale); entry.stale = null; }
        const li = this._items.get(id);
        if (li) li.classList.add("failed");
        this._fail(error);
      });
  }

  _showThumb(id, url) {
    const li = this._items.get(id);
    if (!li) return;
    const img = li.querySelector("img");
    if (img.getAttribute("src") !== url) img.src = url;
    li.classList.add("loaded");
    li.classList.remove("failed");
  }

  _dropThumb(id) {
    const entry = this._thumbs.get(id);
    if (!entry) return;
    entry.cancelled = true;
    if (entry.url) URL.revokeObjectURL(entry.url);
    if (entry.stale) URL.revokeObjectURL(entry.stale);
    this._thumbs.delete(id);
    const li = this._items.get(id);
    if (li) {
      li.querySelector("img").removeAttribute("src");
      li.classList.remove("loaded", "failed");
    }
  }

  _evictThumbs() {
    const limit = Math.max(1, Number(this.thumbnailCacheSize) || DEFAULT_THUMB_CACHE);
    if (this._thumbs.size <= limit) return;
    const candidates = [...this._thumbs].filter(([id]) => !this._visible.has(id))
      .sort((a, b) => a[1].used - b[1].used);
    for (const [id] of candidates) {
      if (this._thumbs.size <= limit) break;
      this._dropThumb(id);
    }
  }

  _withThumbSlot(fn) {
    return new Promise((resolve, reject) => {
      const run = () => {
        this._thumbActive++;
        Promise.resolve().then(fn).then(resolve, reject).finally(() => {
          this._thumbActive--;
          const next = this._thumbWaiters.shift();
          if (next) next();
        });
      };
      if (this._thumbActive < THUMB_CONCURRENCY) run();
      else this._thumbWaiters.push(run);
    });
  }

  // Large view -------------------------------------------------------------------------------

  _renderView() {
    const page = this._byId.get(this._focusId);
    const total = this._pages.length;
    if (!page) {
      this._stage.hidden = true;
      this._dropLarge();
      this._view.setAttribute("aria-label", this._t("pageView"));
      this._img.alt = "";
      return;
    }
    const n = this._pages.indexOf(page) + 1;
    this._view.setAttribute("aria-label", this._t("pageViewOf", { n, total }));
    this._img.alt = this._t("pageOption", { n, total });
    this._stage.hidden = false;
    const same = this._large && this._large.id === page.id;
    if (!same) this._placeholder(page.id);
    this._layout();
    this._scheduleLarge(same && this._large.key === versionKey(page) ? 120 : 0);
  }

  /** Show the page's thumbnail (if loaded) until its large image arrives. */
  _placeholder(id) {
    const entry = this._thumbs.get(id);
    if (entry && entry.url) this._img.src = entry.url;
    else this._img.removeAttribute("src");
  }

  _dropLarge() {
    this._largeSeq++;
    clearTimeout(this._largeTimer);
    if (this._large && this._large.url) URL.revokeObjectURL(this._large.url);
    this._large = null;
    if (this._img) this._img.removeAttribute("src");
  }

  _fitScale(page) {
    const width = this._view.clientWidth - 2 * VIEW_PAD;
    const height = this._view.clientHeight - 2 * VIEW_PAD;
    if (width <= 0 || height <= 0 || !page.width || !page.height) return 0;
    return Math.min(width / page.width, height / page.height);
  }

  _layout() {
    const page = this._byId.get(this._focusId);
    if (!page) return;
    const fit = this._fitScale(page);
    if (!fit) return;
    const width = page.width * fit * this._zoom;
    const height = page.height * fit * this._zoom;
    const viewW = this._view.clientWidth;
    const viewH = this._view.clientHeight;
    const maxX = Math.max(0, (width - viewW) / 2 + VIEW_PAD);
    const maxY = Math.max(0, (height - viewH) / 2 + VIEW_PAD);
    this._panX = clamp(this._panX, -maxX, maxX);
    this._panY = clamp(this._panY, -maxY, maxY);
    this._stage.style.width = `${width}px`;
    this._stage.style.height = `${height}px`;
    this._stage.style.transform =
      `translate(calc(-50% + ${this._panX}px), calc(-50% + ${this._panY}px))`;
    this._view.classList.toggle("zoomed", maxX > 0 || maxY > 0);
    this._renderCrop();
  }

  _scheduleLarge(delay) {
    clearTimeout(this._largeTimer);
    this._largeTimer = setTimeout(() => this._loadLarge(), delay);
  }

  _loadLarge() {
    const page = this._byId.get(this._focusId);
    const client = this._client;
    if (!page || !client || !this.isConnected) return;
    const fit = this._fitScale(page);
    if (!fit) return;
    const dpr = (typeof devicePixelRatio === "number" && devicePixelRatio) || 1;
    const longer = Math.max(page.width, page.height);
    const shown = longer * fit * this._zoom * dpr;
    const size = Math.min(longer, Math.ceil(shown / LARGE_STEP) * LARGE_STEP);
    const key = versionKey(page);
    const large = this._large;
    if (large && large.id === page.id && large.key === key && large.size >= size) return;
    if (large && large.pending === `${page.id}|${key}|${size}`) return;
    const seq = ++this._largeSeq;
    if (large) large.pending = `${page.id}|${key}|${size}`;
    else this._large = { id: null, key: null, size: 0, url: null, pending: `${page.id}|${key}|${size}` };
    client.pageImageUrl(page.id, { width: size, height: size }).then((url) => {
      if (seq !== this._largeSeq || !this.isConnected) { URL.revokeObjectURL(url); return; }
      const old = this._large;
      this._large = { id: page.id, key, size, url, pending: null };
      this._img.src = url;
      if (old && old.url) URL.revokeObjectURL(old.url);
    }, (error) => {
      if (seq !== this._largeSeq) return;
      if (this._large) this._large.pending = null;
      this._fail(error);
    });
  }

  _setZoom(value, anchor) {
    const zoom = clamp(Math.round(value * 1000) / 1000, ZOOM_MIN, ZOOM_MAX);
    if (zoom === this._zoom) return;
    const k = zoom / this._zoom;
    const px = anchor ? anchor.x : 0;
    const py = anchor ? anchor.y : 0;
    this._panX = px - (px - this._panX) * k;
    this._panY = py - (py - this._panY) * k;
    if (zoom <= 1) { this._panX = 0; this._panY = 0; }
    this._zoom = zoom;
    this._layout();
    this._syncTools();
    this._scheduleLarge(150);
    this._emit("zoomchange", { zoom });
  }

  _resized() {
    const horizontal = typeof getComputedStyle === "function"
      && getComputedStyle(this._strip).flexDirection === "row";
    this._rtl = typeof getComputedStyle === "function"
      && getComputedStyle(this._strip).direction === "rtl";
    if (horizontal !== this._horizontal) {
      this._horizontal = horizontal;
      this._strip.setAttribute("aria-orientation", horizontal ? "horizontal" : "vertical");
    }
    this._layout();
    if (this._byId.has(this._focusId)) this._scheduleLarge(150);
  }

  // Crop tool --------------------------------------------------------------------------------

  _renderCrop() {
    const rect = this._crop;
    this._cropBox.hidden = !rect;
    if (!rect) return;
    const s = this._cropBox.style;
    s.left = `${rect.x0 * 100}%`;
    s.top = `${rect.y0 * 100}%`;
    s.width = `${(rect.x1 - rect.x0) * 100}%`;
    s.height = `${(rect.y1 - rect.y0) * 100}%`;
  }

  _stagePoint(event) {
    const box = this._stage.getBoundingClientRect();
    return {
      x: clamp((event.clientX - box.left) / (box.width || 1), 0, 1),
      y: clamp((event.clientY - box.top) / (box.height || 1), 0, 1),
    };
  }

  _cropKey(event) {
    if (!this._crop) {
      this._crop = { x0: 0.05, y0: 0.05, x1: 0.95, y1: 0.95 };
      if (!event.shiftKey && !event.altKey) { this._renderCrop(); this._syncTools(); return; }
    }
    const rect = { ...this._crop };
    const dx = event.key === "ArrowLeft" ? -CROP_STEP : event.key === "ArrowRight" ? CROP_STEP : 0;
    const dy = event.key === "ArrowUp" ? -CROP_STEP : event.key === "ArrowDown" ? CROP_STEP : 0;
    const min = CROP_STEP;
    if (event.shiftKey) {           // bottom-right corner
      rect.x1 = clamp(rect.x1 + dx, rect.x0 + min, 1);
      rect.y1 = clamp(rect.y1 + dy, rect.y0 + min, 1);
    } else if (event.altKey) {      // top-left corner
      rect.x0 = clamp(rect.x0 + dx, 0, rect.x1 - min);
      rect.y0 = clamp(rect.y0 + dy, 0, rect.y1 - min);
    } else {                        // move
      const w = rect.x1 - rect.x0;
      const h = rect.y1 - rect.y0;
      rect.x0 = clamp(rect.x0 + dx, 0, 1 - w);
      rect.y0 = clamp(rect.y0 + dy, 0, 1 - h);
      rect.x1 = rect.x0 + w;
      rect.y1 = rect.y0 + h;
    }
    this._crop = rect;
    this._renderCrop();
    this._syncTools();
  }

  // Selection and focus ----------------------------------------------------------------------

  _commitSelection(set) {
    const before = this.selectedPageIds;
    this._selected = set;
    const after = this.selectedPageIds;
    this._renderStrip();
    if (!sameList(before, after)) this._emit("selectionchange", { pageIds: after });
  }

  _setFocus(id, { dom = true, scroll = true } = {}) {
    if (!this._byId.has(id)) return;
    const changed = id !== this._focusId;
    this._focusId = id;
    if (changed) {
      this.cancelCrop();
      this._zoom = 1;
      this._panX = 0;
      this._panY = 0;
    }
    this._renderStrip();
    if (changed) { this._renderView(); this._syncTools(); this._emit("currentpagechange", { pageId: id }); }
    const li = this._items.get(id);
    if (li && dom) li.focus({ preventScroll: true });
    if (li && scroll && typeof li.scrollIntoView === "function") {
      li.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
  }

  _selectRange(fromId, toId, additive) {
    const order = this.pageIds;
    let a = order.indexOf(fromId);
    const b = order.indexOf(toId);
    if (b < 0) return;
    if (a < 0) a = b;
    const range = order.slice(Math.min(a, b), Math.max(a, b) + 1);
    const set = additive ? new Set([...this._selected, ...range]) : new Set(range);
    this._commitSelection(set);
  }

  _toggle(id) {
    const set = new Set(this._selected);
    if (set.has(id)) set.delete(id);
    else set.add(id);
    this._commitSelection(set);
  }

  // Events from the user ---------------------------------------------------------------------

  _wire() {
    this._tools.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button && !button.disabled) this._action(button.dataset.action);
    });
    this._msg.addEventListener("click", (event) => {
      if (event.target.closest("button[data-action='dismiss-error']")) this._hideMessage();
    });
    const strip = this._strip;
    strip.addEventListener("click", (event) => this._stripClick(event));
    strip.addEventListener("pointerdown", (event) => this._stripPointerDown(event));
    strip.addEventListener("pointermove", (event) => this._stripPointerMove(event));
    strip.addEventListener("pointerup", (event) => this._stripPointerUp(event));
    strip.addEventListener("pointercancel", () => this._endDrag(false));
    strip.addEventListener("lostpointercapture", () => { if (this._drag && this._drag.active) this._endDrag(false); });
    strip.addEventListener("dragstart", (event) => event.preventDefault());
    strip.addEventListener("contextmenu", (event) => { if (this._drag && this._drag.type === "touch") event.preventDefault(); });
    strip.addEventListener("touchmove", (event) => {
      if (this._drag && this._drag.active) event.preventDefault();
    }, { passive: false });
    strip.addEventListener("focusin", (event) => {
      const li = event.target.closest(".thumb");
      if (li && li.dataset.pageId !== this._focusId) this._setFocus(li.dataset.pageId, { dom: false, scroll: false });
    });
    const view = this._view;
    view.addEventListener("pointerdown", (event) => this._viewPointerDown(event));
    view.addEventListener("pointermove", (event) => this._viewPointerMove(event));
    view.addEventListener("pointerup", (event) => this._viewPointerUp(event));
    view.addEventListener("pointercancel", (event) => this._viewPointerUp(event));
    view.addEventListener("wheel", (event) => this._wheel(event), { passive: false });
    view.addEventListener("dblclick", () => { if (!this._cropping) this._setZoom(this._zoom > 1 ? 1 : 2); });
    this._root.addEventListener("keydown", (event) => this._keydown(event));
  }

  _action(action) {
    const quiet = (promise) => { if (promise) promise.catch(() => {}); };
    switch (action) {
      case "rotate-left": quiet(this.rotateLeft()); break;
      case "rotate-right": quiet(this.rotateRight()); break;
      case "delete": quiet(this.deletePages()); break;
      case "crop":
        if (this._cropping) this.cancelCrop();
        else { this.startCrop(); this._view.focus({ preventScroll: true }); }
        break;
      case "apply-crop": quiet(this.applyCrop()); this._buttons.crop.focus(); break;
      case "cancel-crop": this.cancelCrop(); this._buttons.crop.focus(); break;
      case "zoom-in": this.zoomIn(); break;
      case "zoom-out": this.zoomOut(); break;
      case "zoom-reset": this.resetZoom(); break;
      default: break;
    }
  }

  _stripClick(event) {
    if (this._suppressClick) { this._suppressClick = false; return; }
    const li = event.target.closest(".thumb");
    if (!li) return;
    const id = li.dataset.pageId;
    const additive = event.ctrlKey || event.metaKey;
    if (event.shiftKey) {
      this._selectRange(this._anchorId || this._focusId, id, additive);
    } else if (additive) {
      this._toggle(id);
      this._anchorId = id;
    } else {
      this._commitSelection(new Set([id]));
      this._anchorId = id;
    }
    this._setFocus(id);
  }

  _stripPointerDown(event) {
    if (event.button !== 0 || this._drag) return;
    const li = event.target.closest(".thumb");
    if (!li) return;
    this._drag = {
      id: li.dataset.pageId, pointerId: event.pointerId, type: event.pointerType,
      x: event.clientX, y: event.clientY, active: false, timer: 0, gap: -1, moving: [],
      lastX: event.clientX, lastY: event.clientY, frame: 0,
    };
    if (event.pointerType === "touch") {
      this._drag.timer = setTimeout(() => this._startDrag(), LONG_PRESS_MS);
    }
  }

  _stripPointerMove(event) {
    const drag = this._drag;
    if (!drag || event.pointerId !== drag.pointerId) return;
    drag.lastX = event.clientX;
    drag.lastY = event.clientY;
    if (!drag.active) {
      const distance = Math.hypot(event.clientX - drag.x, event.clientY - drag.y);
      if (drag.type === "touch") {
        if (distance > 10) this._endDrag(false);
        return;
      }
      if (distance < DRAG_THRESHOLD) return;
      this._startDrag();
    }
    this._dropAt(event.clientX, event.clientY);
  }

  _stripPointerUp(event) {
    const drag = this._drag;
    if (!drag || event.pointerId !== drag.pointerId) return;
    if (drag.active) {
      this._dropAt(event.clientX, event.clientY);
      this._suppressClick = true;
      setTimeout(() => { this._suppressClick = false; }, 0);
      this._endDrag(true);
    } else {
      this._endDrag(false);
    }
  }

  _startDrag() {
    const drag = this._drag;
    if (!drag || drag.active) return;
    clearTimeout(drag.timer);
    drag.active = true;
    try { this._strip.setPointerCapture(drag.pointerId); } catch (_) { /* already released */ }
    if (!this._selected.has(drag.id)) {
      this._commitSelection(new Set([drag.id]));
      this._anchorId = drag.id;
    }
    this._setFocus(drag.id, { scroll: false });
    drag.moving = this.selectedPageIds;
    for (const id of drag.moving) this._items.get(id)?.classList.add("dragging");
    this._strip.classList.add("reordering");
    const scroll = () => {
      if (!this._drag || !this._drag.active) return;
      const box = this._strip.getBoundingClientRect();
      const edge = 36;
      if (this._horizontal) {
        if (drag.lastX < box.left + edge) this._strip.scrollLeft -= 10;
        else if (drag.lastX > box.right - edge) this._strip.scrollLeft += 10;
      } else if (drag.lastY < box.top + edge) this._strip.scrollTop -= 10;
      else if (drag.lastY > box.bottom - edge) this._strip.scrollTop += 10;
      drag.frame = requestAnimationFrame(scroll);
    };
    drag.frame = requestAnimationFrame(scroll);
  }

  /** Where a drop at (x, y) would insert: a gap index 0..n in the shown order. */
  _dropAt(x, y) {
    const drag = this._drag;
    if (!drag || !drag.active) return;
    const items = this._pages.map((page) => this._items.get(page.id));
    let gap = 0;
    for (const li of items) {
      const box = li.getBoundingClientRect();
      if (!this._horizontal) {
        if (y > box.top + box.height / 2) gap++;
      } else if (this._rtl ? x < box.left + box.width / 2 : x > box.left + box.width / 2) {
        gap++;
      }
    }
    if (gap === drag.gap) return;
    drag.gap = gap;
    for (const li of items) li.classList.remove("drop-before", "drop-after");
    if (!items.length) return;
    if (gap < items.length) items[gap].classList.add("drop-before");
    else items[items.length - 1].classList.add("drop-after");
  }

  _endDrag(commit) {
    const drag = this._drag;
    if (!drag) return;
    this._drag = null;
    clearTimeout(drag.timer);
    cancelAnimationFrame(drag.frame);
    try {
      if (this._strip.hasPointerCapture && this._strip.hasPointerCapture(drag.pointerId)) {
        this._strip.releasePointerCapture(drag.pointerId);
      }
    } catch (_) { /* gone */ }
    this._strip.classList.remove("reordering");
    for (const li of this._items.values()) li.classList.remove("dragging", "drop-before", "drop-after");
    if (!commit || !drag.active || drag.gap < 0) return;
    const order = this.pageIds;
    const moving = new Set(drag.moving);
    const to = order.slice(0, drag.gap).filter((id) => !moving.has(id)).length;
    this.movePages(drag.moving, to).catch(() => {});
  }

  _viewPointerDown(event) {
    if (event.button !== 0 || !this._byId.has(this._focusId)) return;
    if (this._cropping) {
      const p = this._stagePoint(event);
      const r = this._crop;
      const inside = !!r && p.x > r.x0 && p.x < r.x1 && p.y > r.y0 && p.y < r.y1;
      this._pointer = { id: event.pointerId, mode: inside ? "move" : "draw", start: p,
                        rect: r && { ...r } };
      if (!inside) { this._crop = { x0: p.x, y0: p.y, x1: p.x, y1: p.y }; this._renderCrop(); }
    } else if (this._view.classList.contains("zoomed")) {
      this._pointer = { id: event.pointerId, mode: "pan", x: event.clientX, y: event.clientY,
                        panX: this._panX, panY: this._panY };
      this._view.classList.add("panning");
    } else {
      return;
    }
    try { this._view.setPointerCapture(event.pointerId); } catch (_) { /* ignore */ }
    event.preventDefault();
    this._view.focus({ preventScroll: true });
  }

  _viewPointerMove(event) {
    const p = this._pointer;
    if (!p || p.id !== event.pointerId) return;
    if (p.mode === "pan") {
      this._panX = p.panX + (event.clientX - p.x);
      this._panY = p.panY + (event.clientY - p.y);
      this._layout();
    } else if (p.mode === "draw") {
      const q = this._stagePoint(event);
      this._crop = { x0: Math.min(p.start.x, q.x), y0: Math.min(p.start.y, q.y),
                     x1: Math.max(p.start.x, q.x), y1: Math.max(p.start.y, q.y) };
      this._renderCrop();
    } else if (p.mode === "move") {
      const q = this._stagePoint(event);
      const w = p.rect.x1 - p.rect.x0;
      const h = p.rect.y1 - p.rect.y0;
      const x0 = clamp(p.rect.x0 + q.x - p.start.x, 0, 1 - w);
      const y0 = clamp(p.rect.y0 + q.y - p.start.y, 0, 1 - h);
      this._crop = { x0, y0, x1: x0 + w, y1: y0 + h };
      this._renderCrop();
    }
  }

  _viewPointerUp(event) {
    const p = this._pointer;
    if (!p || p.id !== event.pointerId) return;
    this._pointer = null;
    this._view.classList.remove("panning");
    if (p.mode === "draw" && this._crop) {
      const r = this._crop;
      if (r.x1 - r.x0 < 0.01 || r.y1 - r.y0 < 0.01) { this._crop = p.rect; this._renderCrop(); }
      this._syncTools();
    }
  }

  _wheel(event) {
    if (!this._byId.has(this._focusId)) return;
    if (event.ctrlKey || event.metaKey) {
      event.preventDefault();
      const box = this._view.getBoundingClientRect();
      const anchor = { x: event.clientX - (box.left + box.width / 2),
                       y: event.clientY - (box.top + box.height / 2) };
      this._setZoom(this._zoom * (event.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP), anchor);
    } else if (this._view.classList.contains("zoomed")) {
      event.preventDefault();
      this._panX -= event.deltaX;
      this._panY -= event.deltaY;
      this._layout();
    }
  }

  _keydown(event) {
    if (event.defaultPrevented || event.isComposing) return;
    const target = event.composedPath()[0];
    const onButton = target && target.closest && target.closest("button");
    if (onButton && (event.key === "Enter" || event.key === " ")) return;
    const inStrip = this._strip.contains(target);
    const inView = target === this._view;
    const key = event.key;
    const arrows = ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"];
    const mod = event.ctrlKey || event.metaKey;

    if (this._drag && key === "Escape") { this._endDrag(false); event.preventDefault(); return; }
    if (this._cropping) {
      if (key === "Escape") { this.cancelCrop(); this._view.focus(); event.preventDefault(); return; }
      if (key === "Enter" && !onButton) { this.applyCrop().catch(() => {}); event.preventDefault(); return; }
      if (inView && arrows.includes(key) && !mod) { this._cropKey(event); event.preventDefault(); return; }
    }
    if (inStrip && this._stripKey(event)) { event.preventDefault(); return; }
    if (inView && !this._cropping && arrows.includes(key) && !mod && !event.altKey
        && this._view.classList.contains("zoomed")) {
      if (key === "ArrowLeft") this._panX += PAN_STEP;
      if (key === "ArrowRight") this._panX -= PAN_STEP;
      if (key === "ArrowUp") this._panY += PAN_STEP;
      if (key === "ArrowDown") this._panY -= PAN_STEP;
      this._layout();
      event.preventDefault();
      return;
    }
    if (!(inStrip || inView) || mod || event.altKey) return;
    const lower = key.length === 1 ? key.toLowerCase() : key;
    let handled = true;
    if (key === "Delete" || key === "Backspace") this._action("delete");
    else if (lower === "r") this._action(event.shiftKey ? "rotate-left" : "rotate-right");
    else if (lower === "l") this._action("rotate-left");
    else if (lower === "c") this._action("crop");
    else if (key === "+" || key === "=") this.zoomIn();
    else if (key === "-" || key === "_") this.zoomOut();
    else if (key === "0") this.resetZoom();
    else if (key === "Escape" && this._selected.size) this.clearSelection();
    else handled = false;
    if (handled) event.preventDefault();
  }

  /** Keys of the listbox; true when handled. */
  _stripKey(event) {
    const key = event.key;
    const order = this.pageIds;
    if (!order.length) return false;
    const at = Math.max(0, order.indexOf(this._focusId));
    const mod = event.ctrlKey || event.metaKey;
    const back = this._rtl ? "ArrowRight" : "ArrowLeft";
    const on = this._rtl ? "ArrowLeft" : "ArrowRight";
    const prev = key === "ArrowUp" || key === back;
    const next = key === "ArrowDown" || key === on;
    if (event.altKey && (prev || next || key === "Home" || key === "End")) {
      const delta = key === "Home" ? -Infinity : key === "End" ? Infinity : prev ? -1 : 1;
      this._moveBy(delta).catch(() => {});
      return true;
    }
    let to = -1;
    if (prev) to = Math.max(0, at - 1);
    else if (next) to = Math.min(order.length - 1, at + 1);
    else if (key === "Home") to = 0;
    else if (key === "End") to = order.length - 1;
    else if (key === "PageUp") to = Math.max(0, at - 5);
    else if (key === "PageDown") to = Math.min(order.length - 1, at + 5);
    if (to >= 0) {
      const id = order[to];
      if (event.shiftKey) this._selectRange(this._anchorId || order[at], id, mod);
      else this._anchorId = mod ? this._anchorId : id;
      this._setFocus(id);
      return true;
    }
    if (key === " " || key === "Spacebar") {
      const id = order[at];
      if (event.shiftKey) this._selectRange(this._anchorId || id, id, true);
      else { this._toggle(id); this._anchorId = id; }
      return true;
    }
    if (key === "Enter") {
      this._commitSelection(new Set([order[at]]));
      this._anchorId = order[at];
      return true;
    }
    if (mod && !event.altKey && !event.shiftKey && key.toLowerCase() === "a") {
      this.selectAll();
      return true;
    }
    return false;
  }

  // Messages and events ----------------------------------------------------------------------

  _emit(type, detail) {
    return this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  /** Dispatch "error"; unless a listener calls preventDefault(), show it (role="alert"). */
  _fail(error) {
    const event = new CustomEvent("error", {
      detail: { error }, bubbles: true, composed: true, cancelable: true,
    });
    if (!this.dispatchEvent(event)) return;
    this._alert.textContent = this._t("error", { message: errorText(error) });
    this._msg.classList.add("shown");
    clearTimeout(this._messageTimer);
    this._messageTimer = setTimeout(() => this._hideMessage(), MESSAGE_MS);
  }

  _hideMessage() {
    clearTimeout(this._messageTimer);
    const hadFocus = this._msg.contains(this.shadowRoot.activeElement);
    this._msg.classList.remove("shown");
    this._alert.textContent = "";
    if (hadFocus) (this._items.get(this._focusId) || this._view).focus();
  }

  _announce(text) {
    this._status.textContent = "";
    setTimeout(() => { this._status.textContent = text; }, 30);
  }
}

if (typeof customElements !== "undefined" && !customElements.get("scanlet-viewer")) {
  customElements.define("scanlet-viewer", ScanletViewer);
}

export default ScanletViewer;
