// Scanlet JavaScript SDK: find the local Scanlet service, pair with it, scan, edit, export
// and upload. Plain ES module, no dependencies. See docs/sdk.md for every method.
//
//   import { connect } from "./scanlet.js";
//   const client = await connect();
//   if (!client.token) await client.pair({ appName: "Invoices" });
//   const job = client.scan({ device: "sane:test:0", source: "feeder" });
//   await job;
//   const pdf = await client.export(job.documentId, { format: "pdf" });

import {
  LocalNetworkPermissionError,
  NetworkError,
  NotRunningError,
  PairingError,
  ScanletError,
  VersionError,
  errorFromProblem,
} from "./errors.js";
import { ScanJob, Task } from "./operations.js";

export {
  LocalNetworkPermissionError,
  NetworkError,
  NotRunningError,
  PairingError,
  ScanJob,
  ScanletError,
  Task,
  VersionError,
};

/** The version of this SDK. */
export const SDK_VERSION = "0.1.0";

/** Where Scanlet listens unless configured otherwise (HTTP, then HTTPS). */
export const DEFAULT_URLS = Object.freeze(["http://127.0.0.1:18622", "https://127.0.0.1:18623"]);

/** Permission names Chrome has used for its Local Network Access prompt. */
const LOCAL_NETWORK_PERMISSIONS = ["local-network-access", "loopback-network", "local-network"];
/** Media types the import route accepts as they are; others are sent as octet-stream. */
const IMPORT_TYPES = new Set(["image/jpeg", "image/png", "image/tiff", "image/bmp",
  "image/webp", "application/pdf"]);
const EXTENSIONS = { pdf: "pdf", tiff: "tiff", jpeg: "jpg", png: "png", bmp: "bmp",
  webp: "webp" };

/** @param {number} ms @param {AbortSignal} [signal] @returns {Promise<void>} */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal && signal.reason);
    };
    const timer = setTimeout(() => {
      if (signal) signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    if (signal) signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** @param {string} url @returns {string} without a trailing slash */
const trimUrl = (url) => String(url).replace(/\/+$/, "");

/** @param {string} key camelCase or snake_case @returns {string} snake_case */
const snake = (key) => key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());

/**
 * A query string from an object: undefined/null left out, arrays comma-joined, Dates ISO.
 * @param {Record<string, any>} params @returns {string} "" or "?a=1&b=2"
 */
function queryString(params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    const text = Array.isArray(value) ? value.join(",")
      : value instanceof Date ? value.toISOString() : String(value);
    query.set(snake(key), text);
  }
  const text = query.toString();
  return text ? "?" + text : "";
}

/**
 * A copy of `object` with camelCase keys turned snake_case (shallow); undefined left out.
 * @param {Record<string, any>|undefined|null} object @returns {Record<string, any>}
 */
function snakeKeys(object) {
  /** @type {Record<string, any>} */
  const out = {};
  for (const [key, value] of Object.entries(object || {})) {
    if (value !== undefined) out[snake(key)] = value;
  }
  return out;
}

/** "1.2.3+x" -> [1, 2, 3] @param {string} version @returns {number[]} */
function versionParts(version) {
  return String(version).split(/[+-]/, 1)[0].split(".").map((part) => parseInt(part, 10) || 0);
}

/**
 * Whether `version` is at least `minimum` (numeric dotted versions; build suffixes ignored).
 * @param {string} version @param {string} minimum @returns {boolean}
 */
export function versionAtLeast(version, minimum) {
  const have = versionParts(version);
  const want = versionParts(minimum);
  for (let i = 0; i < Math.max(have.length, want.length); i++) {
    const a = have[i] || 0;
    const b = want[i] || 0;
    if (a !== b) return a > b;
  }
  return true;
}

/**
 * The default URLs to probe: the service that served this module (when it was loaded from a
 * Scanlet service's `/sdk/` path), then DEFAULT_URLS.
 * @returns {string[]}
 */
function defaultUrls() {
  const urls = [];
  try {
    const here = new URL(import.meta.url);
    if ((here.protocol === "http:" || here.protocol === "https:")
        && /\/sdk\/scanlet\.js$/.test(here.pathname)) {
      urls.push(here.origin);
    }
  } catch {
    // not loaded from a URL we can read
  }
  for (const url of DEFAULT_URLS) if (!urls.includes(url)) urls.push(url);
  return urls;
}

/**
 * GET {url}/v1/version: the answer when it is a Scanlet service, else null.
 * @param {string} url @param {number} timeoutMs @param {AbortSignal} [signal]
 * @returns {Promise<any|null>}
 */
async function probe(url, timeoutMs, signal) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const onAbort = () => controller.abort();
  if (signal) signal.addEventListener("abort", onAbort, { once: true });
  try {
    const response = await fetch(url + "/v1/version",
      { signal: controller.signal, cache: "no-store", credentials: "omit" });
    if (!response.ok) return null;
    const body = await response.json();
    return body && typeof body === "object" && body.name === "scanlet" ? body : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    if (signal) signal.removeEventListener("abort", onAbort);
  }
}

/**
 * The name of the local-network permission the browser reports as denied, or null.
 * Browsers that do not know a name throw; that counts as "not denied".
 * @returns {Promise<string|null>}
 */
async function deniedLocalNetworkPermission() {
  const permissions = globalThis.navigator && globalThis.navigator.permissions;
  if (!permissions || typeof permissions.query !== "function") return null;
  for (const name of LOCAL_NETWORK_PERMISSIONS) {
    try {
      const status = await permissions.query(/** @type {any} */ ({ name }));
      if (status && status.state === "denied") return name;
    } catch {
      // unknown permission name in this browser
    }
  }
  return null;
}

/**
 * Find the Scanlet service on this computer and check its version.
 *
 * Probes `GET /v1/version` at every URL at once and takes the first URL of the list that
 * answers as Scanlet.
 *
 * @param {{urls?: string[], token?: string|null, minVersion?: string, timeoutMs?: number,
 *          signal?: AbortSignal}} [options]
 * @returns {Promise<Client>}
 * @throws {NotRunningError} nothing answered (Scanlet is not running or not installed)
 * @throws {LocalNetworkPermissionError} nothing answered and the browser's local network
 *   permission for this site is denied
 * @throws {VersionError} the service is older than `minVersion`
 */
export async function connect(options = {}) {
  const urls = (options.urls && options.urls.length ? options.urls : defaultUrls()).map(trimUrl);
  const timeoutMs = options.timeoutMs ?? 2000;
  const signal = options.signal;
  if (signal && signal.aborted) throw signal.reason;
  const probes = urls.map((url) => probe(url, timeoutMs, signal));
  for (let i = 0; i < urls.length; i++) {
    const version = await probes[i];
    if (signal && signal.aborted) throw signal.reason;
    if (version === null) continue;
    if (options.minVersion && !versionAtLeast(version.version, options.minVersion)) {
      throw new VersionError(String(version.version), options.minVersion);
    }
    return new Client(urls[i], version, options.token ?? null);
  }
  const denied = await deniedLocalNetworkPermission();
  if (denied !== null) throw new LocalNetworkPermissionError(urls, denied);
  throw new NotRunningError(urls);
}

/**
 * A connection to one Scanlet service. Get one from `connect()`.
 *
 * Events (CustomEvent, data in `event.detail`): `page` {page, job} for every page any scan of
 * this client stored, `job` (JobInfo) on every state change of its scans, `task` (TaskInfo)
 * on every state change of its tasks.
 */
export class Client extends EventTarget {
  /**
   * @param {string} baseUrl e.g. "http://127.0.0.1:18622"
   * @param {any} version the service's `GET /v1/version` answer
   * @param {string|null} [token] a token from an earlier pairing
   */
  constructor(baseUrl, version, token = null) {
    super();
    /** The service's URL, e.g. "http://127.0.0.1:18622". */
    this.baseUrl = trimUrl(baseUrl);
    /** The service's version answer: {name, version}. */
    this.version = version;
    /** The token sent as `Authorization: Bearer` (null: none, e.g. Scanlet's own pages). */
    this.token = token;
    /** The id of this client's session (WS /v1/session), once open. */
    this.sessionId = null;
    /** @type {Set<WebSocket>} */
    this._sockets = new Set();
    /** @type {WebSocket|null} */
    this._sessionSocket = null;
    /** @type {Promise<string|null>|null} */
    this._sessionPromise = null;
    this._closed = false;
  }

  /** Use another token (null: none) for the next requests. Kept only in memory. */
  setToken(token) {
    this.token = token || null;
  }

  // Plumbing -------------------------------------------------------------------------------

  /** @param {string} type @param {any} detail */
  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /**
   * One API request.
   * @param {string} method
   * @param {string} path e.g. "/v1/devices" (with its query string)
   * @param {{json?: any, body?: BodyInit, headers?: Record<string, string>,
   *          expect?: "json"|"blob"|"none"|"response", signal?: AbortSignal}} [init]
   * @returns {Promise<any>}
   */
  async _request(method, path, init = {}) {
    /** @type {Record<string, string>} */
    const headers = { ...(init.headers || {}) };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let body = init.body;
    if (init.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(init.json);
    }
    let response;
    try {
      response = await fetch(this.baseUrl + path,
        { method, headers, body, signal: init.signal, credentials: "omit" });
    } catch (error) {
      if (init.signal && init.signal.aborted) throw init.signal.reason;
      throw await this._networkFailure(error);
    }
    if (!response.ok) {
      let problem = null;
      try {
        problem = await response.json();
      } catch {
        problem = null;
      }
      throw errorFromProblem(problem, response.status, response.headers.get("Retry-After"));
    }
    const expect = init.expect || "json";
    if (expect === "response") return response;
    if (expect === "blob") return response.blob();
    if (expect === "none" || response.status === 204) return undefined;
    return response.json();
  }

  /**
   * A fetch that got no answer: the service stopped (NotRunningError), or it runs and the
   * browser blocked the answer (NetworkError: no CORS answer for an unpaired site).
   * @param {unknown} cause @returns {Promise<ScanletError>}
   */
  async _networkFailure(cause) {
    const alive = await probe(this.baseUrl, 1500);
    if (alive === null) return new NotRunningError([this.baseUrl], cause);
    return new NetworkError("Scanlet runs but the browser blocked the answer (is this site " +
      "paired?)", cause);
  }

  /** @param {string} path @returns {string} the ws:// or wss:// URL */
  _wsUrl(path) {
    return this.baseUrl.replace(/^http/, "ws") + path;
  }

  /**
   * Open a WebSocket to the service with the subprotocols the service expects.
   * @param {string} path @param {unknown} [owner] @returns {WebSocket}
   */
  _openSocket(path, owner) {
    void owner;
    if (this._closed) throw new ScanletError("the client was closed", { code: "client_closed" });
    const protocols = this.token ? ["scanlet", "scanlet.bearer." + this.token] : ["scanlet"];
    const socket = new WebSocket(this._wsUrl(path), protocols);
    this._sockets.add(socket);
    socket.addEventListener("close", () => this._sockets.delete(socket));
    return socket;
  }

  /** @param {WebSocket} socket */
  _forgetSocket(socket) {
    this._sockets.delete(socket);
  }

  /**
   * This client's session id, opening `WS /v1/session` on first use; null when no session
   * could be opened (the scan then runs without one).
   * @returns {Promise<string|null>}
   */
  session() {
    if (this._sessionPromise) return this._sessionPromise;
    const promise = new Promise((resolve) => {
      let socket;
      try {
        socket = this._openSocket("/v1/session");
      } catch {
        resolve(null);
        return;
      }
      this._sessionSocket = socket;
      const timer = setTimeout(() => {
        resolve(null);
        try { socket.close(); } catch { /* closed */ }
      }, 5000);
      socket.onmessage = (event) => {
        let message = null;
        try {
          message = JSON.parse(String(event.data));
        } catch {
          return;
        }
        if (message && message.type === "session" && typeof message.id === "string") {
          clearTimeout(timer);
          this.sessionId = message.id;
          resolve(message.id);
        } else if (message && message.type === "devices_changed") {
          this._emit("deviceschange", {
            added: Array.isArray(message.added) ? message.added : [],
            removed: Array.isArray(message.removed) ? message.removed : [],
          });
        }
      };
      socket.onclose = () => {
        clearTimeout(timer);
        if (this._sessionSocket === socket) {
          this._sessionSocket = null;
          this._sessionPromise = null;
          this.sessionId = null;
        }
        resolve(null);
      };
    });
    this._sessionPromise = promise;
    return promise;
  }

  /**
   * Close the session socket and every job/task socket of this client. Pending `done`
   * promises reject with code "client_closed". The client cannot be used afterwards.
   */
  close() {
    this._closed = true;
    const sockets = [...this._sockets];
    this._sockets.clear();
    this._sessionSocket = null;
    this._sessionPromise = null;
    this.sessionId = null;
    for (const socket of sockets) {
      try {
        socket.close();
      } catch {
        // already closed
      }
    }
  }

  // Pairing --------------------------------------------------------------------------------

  /**
   * Pair this page's origin with Scanlet and keep the token (in memory; the page decides
   * where to store `result.token`).
   *
   * Origins an administrator allowed get their token at once. Otherwise `onCode(code,
   * consentUrl)` is called, the consent page is opened with `window.open` (unless
   * `openConsent` is false: then open `consentUrl` yourself on a click), and the service is
   * polled until the user answered.
   *
   * @param {{scopes?: string[], appName?: string,
   *          onCode?: (code: string, consentUrl: string) => void, openConsent?: boolean,
   *          pollMs?: number, signal?: AbortSignal}} [options]
   * @returns {Promise<{token: string, scopes: string[], expiresAt: number|null,
   *                    origin: string}>}
   * @throws {PairingError} codes pairing_denied, pairing_expired, pairing_disabled, ...
   */
  async pair(options = {}) {
    const signal = options.signal;
    const answer = await this._pairRequest("/v1/pair",
      { scopes: options.scopes || ["scan"], app_name: options.appName || "" }, signal);
    if (answer.body.token) return this._paired(answer.body);
    const ask = answer.body;
    if (typeof options.onCode === "function") options.onCode(ask.code, ask.consent_url);
    if (options.openConsent !== false && typeof globalThis.open === "function") {
      try {
        globalThis.open(ask.consent_url, "scanlet-consent");
      } catch {
        // a popup blocker; the page shows consentUrl from onCode
      }
    }
    const pollMs = Math.max(100, options.pollMs ?? 1000);
    const deadline = Date.now() + Math.max(1, Number(ask.expires_in) || 300) * 1000;
    const path = `/v1/pair/${encodeURIComponent(ask.request_id)}/token`;
    while (Date.now() < deadline) {
      await sleep(pollMs, signal);
      const polled = await this._pairRequest(path, { secret: ask.secret }, signal);
      if (polled.body.token) return this._paired(polled.body);
    }
    throw new PairingError("the pairing request expired before it was answered",
      { code: "pairing_expired", title: "Pairing expired" });
  }

  /** @private */
  async _pairRequest(path, json, signal) {
    let response;
    try {
      response = await this._request("POST", path, { json, signal, expect: "response" });
    } catch (error) {
      if (error instanceof ScanletError && !(error instanceof PairingError)
          && error.code === "network_error") {
        throw new PairingError(error.message, { code: "pairing_error", cause: error });
      }
      throw error;
    }
    return { status: response.status, body: await response.json() };
  }

  /** @private */
  _paired(body) {
    this.setToken(body.token);
    return { token: body.token, scopes: body.scopes || [], origin: body.origin,
      expiresAt: body.token_expires_at ?? null };
  }

  // Service --------------------------------------------------------------------------------

  /** `GET /v1/health`: {status, uptime_seconds, demo, workers}. */
  health() {
    return this._request("GET", "/v1/health");
  }

  // Devices --------------------------------------------------------------------------------

  /**
   * The scanners: Device[], from the service's last device listing (answered at once).
   * `refresh: true` waits for a new listing (slower: seconds with some SANE backends).
   * Scanners plugged in or out later are announced by a `deviceschange` event
   * ({detail: {added, removed}}: device ids) while this client's session is open: call
   * `watchDevices()` (or `session()`) to open it.
   * @param {{refresh?: boolean}} [options]
   */
  devices(options = {}) {
    return this._request("GET", options.refresh ? "/v1/devices?refresh=true" : "/v1/devices");
  }

  /**
   * Open this client's session so `deviceschange` events arrive; resolves with whether it
   * is open. The service sends one whenever a device listing finds scanners added or gone.
   * @returns {Promise<boolean>}
   */
  async watchDevices() {
    return (await this.session()) !== null;
  }

  /** One scanner. @param {string} deviceId */
  device(deviceId) {
    return this._request("GET", `/v1/devices/${encodeURIComponent(deviceId)}`);
  }

  /**
   * What a scanner can do, per paper source.
   * @param {string} deviceId
   * @param {{session?: string|boolean}} [options] `session: true` uses (and opens) this
   *   client's session, so the device's scan worker stays for the next scan
   */
  async capabilities(deviceId, options = {}) {
    const session = options.session === true ? await this.session()
      : (typeof options.session === "string" ? options.session : null);
    return this._request("GET", `/v1/devices/${encodeURIComponent(deviceId)}/capabilities`
      + queryString({ session }));
  }

  // Scanning -------------------------------------------------------------------------------

  /**
   * Start a scan. Returns at once; `await job` gives the final JobInfo.
   * `settings` is the body of `POST /v1/jobs` (device, source, mode, resolution, pages, ...).
   * Without a `session` key the client's session (WS /v1/session) is opened and used.
   * @param {Record<string, any>} settings @returns {ScanJob}
   */
  scan(settings) {
    const start = (async () => {
      const body = { ...settings };
      if (!("session" in body)) {
        const session = await this.session();
        if (session) body.session = session;
      }
      return this._request("POST", "/v1/jobs", { json: body });
    })();
    return new ScanJob(this, start);
  }

  /** Follow a job that already exists (e.g. after a reload). @param {string} jobId */
  watchJob(jobId) {
    return new ScanJob(this, this.job(jobId));
  }

  /** One job's status. @param {string} jobId */
  job(jobId) {
    return this._request("GET", `/v1/jobs/${encodeURIComponent(jobId)}`);
  }

  /** Every job the service remembers. */
  jobs() {
    return this._request("GET", "/v1/jobs");
  }

  // Buffer: documents ----------------------------------------------------------------------

  /** Every document in the buffer. */
  documents() {
    return this._request("GET", "/v1/documents");
  }

  /** @param {{name?: string, tags?: string[], metadata?: Record<string, any>}} [fields] */
  createDocument(fields = {}) {
    return this._request("POST", "/v1/documents", { json: fields });
  }

  /** @param {string} documentId */
  document(documentId) {
    return this._request("GET", `/v1/documents/${encodeURIComponent(documentId)}`);
  }

  /**
   * Change a document's name, tags or metadata (fields left out stay).
   * @param {string} documentId
   * @param {{name?: string, tags?: string[], metadata?: Record<string, any>}} patch
   */
  updateDocument(documentId, patch) {
    return this._request("PATCH", `/v1/documents/${encodeURIComponent(documentId)}`,
      { json: patch });
  }

  /** Delete a document and its pages. @param {string} documentId @returns {Promise<void>} */
  async deleteDocument(documentId) {
    await this._request("DELETE", `/v1/documents/${encodeURIComponent(documentId)}`,
      { expect: "none" });
  }

  /**
   * Split a document at separator pages into new documents (the source is removed).
   * @param {string} documentId
   * @param {{kind: "barcode"|"patch"|"blank", value?: string, pattern?: string,
   *          formats?: string[], patches?: string[], keep_separators?: boolean}} rule
   * @param {{namePrefix?: string}} [options]
   */
  split(documentId, rule, options = {}) {
    return this._request("POST", `/v1/documents/${encodeURIComponent(documentId)}/split`,
      { json: { rule, name_prefix: options.namePrefix || "" } });
  }

  // Buffer: pages --------------------------------------------------------------------------

  /** A document's pages, in order. @param {string} documentId */
  pages(documentId) {
    return this._request("GET", `/v1/documents/${encodeURIComponent(documentId)}/pages`);
  }

  /** @param {string} pageId */
  page(pageId) {
    return this._request("GET", `/v1/pages/${encodeURIComponent(pageId)}`);
  }

  /**
   * Change a page's tags or metadata.
   * @param {string} pageId @param {{tags?: string[], metadata?: Record<string, any>}} patch
   */
  updatePage(pageId, patch) {
    return this._request("PATCH", `/v1/pages/${encodeURIComponent(pageId)}`, { json: patch });
  }

  /** Delete one page. @param {string} pageId @returns {Promise<void>} */
  async deletePage(pageId) {
    await this._request("DELETE", `/v1/pages/${encodeURIComponent(pageId)}`,
      { expect: "none" });
  }

  /**
   * Delete some pages of a document.
   * @param {string} documentId @param {string[]} pageIds @returns {Promise<void>}
   */
  async deletePages(documentId, pageIds) {
    await this._request("POST",
      `/v1/documents/${encodeURIComponent(documentId)}/pages/delete`,
      { json: { page_ids: pageIds } });
  }

  /** Delete every page of a document. @param {string} documentId @returns {Promise<void>} */
  async clearDocument(documentId) {
    await this._request("DELETE", `/v1/documents/${encodeURIComponent(documentId)}/pages`);
  }

  /** Delete every page in the buffer. @returns {Promise<void>} */
  async clearBuffer() {
    await this._request("DELETE", "/v1/pages");
  }

  /**
   * Move pages (kept in their order) to a position. Returns the document's pages in order.
   * @param {string} documentId @param {string[]} pageIds @param {number} toIndex 0-based
   */
  movePages(documentId, pageIds, toIndex) {
    return this._request("POST", `/v1/documents/${encodeURIComponent(documentId)}/pages/move`,
      { json: { page_ids: pageIds, to_index: toIndex } });
  }

  /**
   * Set the full page order. Returns the document's pages in order.
   * @param {string} documentId @param {string[]} pageIds every page of the document
   */
  setPageOrder(documentId, pageIds) {
    return this._request("PUT", `/v1/documents/${encodeURIComponent(documentId)}/pages/order`,
      { json: { page_ids: pageIds } });
  }

  /**
   * Append the pages of a file (JPEG, PNG, TIFF, BMP, WebP or PDF) to a document.
   * Needs the `files` scope.
   * @param {string} documentId @param {Blob} file
   * @param {{dpi?: number, password?: string}} [options]
   */
  importFile(documentId, file, options = {}) {
    const type = (file.type || "").toLowerCase();
    /** @type {Record<string, string>} */
    const headers = { "Content-Type": IMPORT_TYPES.has(type) ? type : "application/octet-stream" };
    if (options.password) headers["X-PDF-Password"] = options.password;
    return this._request("POST", `/v1/documents/${encodeURIComponent(documentId)}/import`
      + queryString({ dpi: options.dpi }), { body: file, headers });
  }

  // Images ---------------------------------------------------------------------------------

  /**
   * A page's image: the original, or fitted into width x height (aspect kept, never enlarged).
   * @param {string} pageId
   * @param {{width?: number, height?: number, format?: "jpeg"|"png", quality?: number}} [options]
   * @returns {Promise<Blob>}
   */
  pageImage(pageId, options = {}) {
    const { width, height, format, quality } = options;
    return this._request("GET", `/v1/pages/${encodeURIComponent(pageId)}/image`
      + queryString({ width, height, format, quality }), { expect: "blob" });
  }

  /**
   * Like pageImage, as a `blob:` URL for `<img src>`; revoke it with URL.revokeObjectURL.
   * @param {string} pageId @param {{width?: number, height?: number,
   *   format?: "jpeg"|"png", quality?: number}} [options] @returns {Promise<string>}
   */
  async pageImageUrl(pageId, options = {}) {
    return URL.createObjectURL(await this.pageImage(pageId, options));
  }

  /**
   * A thumbnail fitted into size x size pixels, as a `blob:` URL (revoke it when done).
   * @param {string} pageId @param {number} [size] default 200 @returns {Promise<string>}
   */
  thumbnailUrl(pageId, size = 200) {
    return this.pageImageUrl(pageId, { width: size, height: size });
  }

  // Editing --------------------------------------------------------------------------------

  /**
   * Apply edits in order; the result is a new version of the page.
   * @param {string} pageId @param {Array<Record<string, any>>} edits e.g. [{op: "rotate",
   *   angle: 90}] @param {{quality?: number, output?: "auto"|"jpeg"|"png"}} [options]
   * @returns {Promise<{page: any, report: any}>}
   */
  editPage(pageId, edits, options = {}) {
    return this._request("POST", `/v1/pages/${encodeURIComponent(pageId)}/edit`,
      { json: { edits, ...snakeKeys(options) } });
  }

  /**
   * Rotate a page counter-clockwise by `angle` degrees (the service's convention: 90 turns it
   * left; 270 or -90 turns it right). Quarter turns of JPEG pages are lossless.
   * @param {string} pageId @param {number} angle @returns {Promise<any>} the page
   */
  async rotate(pageId, angle) {
    return (await this.editPage(pageId, [{ op: "rotate", angle }])).page;
  }

  /** Turn a page a quarter to the left. @param {string} pageId */
  rotateLeft(pageId) {
    return this.rotate(pageId, 90);
  }

  /** Turn a page a quarter to the right. @param {string} pageId */
  rotateRight(pageId) {
    return this.rotate(pageId, -90);
  }

  /**
   * Crop a page to a box of its current image.
   * @param {string} pageId
   * @param {[number, number, number, number]} box [left, top, right, bottom] pixels,
   *   right/bottom exclusive
   * @returns {Promise<any>} the page
   */
  async crop(pageId, box) {
    return (await this.editPage(pageId, [{ op: "crop", box }])).page;
  }

  /**
   * Go back to the page's previous version (or its first with `toOriginal`).
   * @param {string} pageId @param {{toOriginal?: boolean}} [options]
   */
  undo(pageId, options = {}) {
    return this._request("POST", `/v1/pages/${encodeURIComponent(pageId)}/undo`,
      { json: { to_original: Boolean(options.toOriginal) } });
  }

  // Processing -----------------------------------------------------------------------------

  /**
   * Whether a page is blank. @param {string} pageId @param {{sensitivity?: number}} [options]
   * sensitivity 0..100 (default 50; higher calls more pages blank)
   */
  isBlank(pageId, options = {}) {
    return this._request("GET", `/v1/pages/${encodeURIComponent(pageId)}/blank`
      + queryString({ sensitivity: options.sensitivity }));
  }

  /**
   * Read barcodes on a page.
   * @param {string} pageId
   * @param {{formats?: string[], region?: {left: number, top: number, width: number,
   *          height: number}|number[]}} [options]
   */
  barcodes(pageId, options = {}) {
    const region = options.region && !Array.isArray(options.region)
      ? [options.region.left, options.region.top, options.region.width, options.region.height]
      : options.region;
    return this._request("GET", `/v1/pages/${encodeURIComponent(pageId)}/barcodes`
      + queryString({ formats: options.formats, region }));
  }

  /**
   * Barcodes of every page of a document: page id -> barcodes.
   * @param {string} documentId @param {{formats?: string[]}} [options]
   */
  documentBarcodes(documentId, options = {}) {
    return this._request("GET", `/v1/documents/${encodeURIComponent(documentId)}/barcodes`
      + queryString({ formats: options.formats }));
  }

  /** The installed OCR languages, e.g. ["deu", "eng"]. @returns {Promise<string[]>} */
  ocrLanguages() {
    return this._request("GET", "/v1/ocr/languages");
  }

  /**
   * Recognise text: a task whose file is a searchable PDF (output "pdf"/"pdfa"), the text or
   * hOCR. `await task` then `task.file()`.
   * @param {string} documentId
   * @param {{lang?: string, output?: "pdf"|"pdfa"|"text"|"hocr", pageIds?: string[],
   *          metadata?: Record<string, any>}} [options]
   * @returns {Task}
   */
  ocr(documentId, options = {}) {
    return new Task(this, this._request("POST",
      `/v1/documents/${encodeURIComponent(documentId)}/ocr`, { json: snakeKeys(options) }));
  }

  // Export and upload ----------------------------------------------------------------------

  /** @private @returns {Promise<{blob: Blob, fileName: string|null}>} */
  async _export(documentId, options = {}) {
    const { pageIds, pages, fileName, ...rest } = options;
    void fileName;
    const response = await this._request("GET",
      `/v1/documents/${encodeURIComponent(documentId)}/export`
      + queryString({ ...rest, pages: pages || pageIds }), { expect: "response" });
    const disposition = response.headers.get("Content-Disposition") || "";
    const match = /filename="?([^";]+)"?/i.exec(disposition);
    return { blob: await response.blob(), fileName: match ? match[1] : null };
  }

  /**
   * Export a document (or some of its pages) as one file.
   * @param {string} documentId
   * @param {Record<string, any>} [options] format ("pdf", "tiff", "jpeg", "png", "bmp",
   *   "webp"), pages (page ids, in that order), quality, progressive, reencodeJpeg,
   *   webpLossless, tiffCompression, pdfA, title, author, subject, keywords, creationDate
   * @returns {Promise<Blob>}
   */
  async export(documentId, options = {}) {
    return (await this._export(documentId, options)).blob;
  }

  /**
   * Export and let the browser save the file (an `<a download>` with a blob: URL).
   * @param {string} documentId
   * @param {Record<string, any>} [options] export's options plus fileName
   * @returns {Promise<string>} the file name used
   */
  async download(documentId, options = {}) {
    const { blob, fileName } = await this._export(documentId, options);
    const name = options.fileName || fileName
      || `${documentId}.${EXTENSIONS[options.format || "pdf"] || "bin"}`;
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    link.rel = "noopener";
    link.hidden = true;
    document.body.appendChild(link);
    try {
      link.click();
    } finally {
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    }
    return name;
  }

  /**
   * Upload a document from the service to a web server (or FTP). Needs the `upload` scope;
   * a page may upload to its own origin or to targets the admin allowed.
   * @param {string} documentId
   * @param {{url: string, method?: "POST"|"PUT", format?: string, fields?: Record<string,
   *   string>, headers?: Record<string, string>, fileName?: string, fieldName?: string,
   *   pageIds?: string[], options?: Record<string, any>, ftp?: {user?: string,
   *   password?: string}}} options
   * @returns {Task}
   */
  upload(documentId, options) {
    const body = snakeKeys(options);
    if (options && options.options) body.options = snakeKeys(options.options);
    return new Task(this, this._request("POST",
      `/v1/documents/${encodeURIComponent(documentId)}/upload`, { json: body }));
  }

  // Tasks ----------------------------------------------------------------------------------

  /** One task's status. @param {string} taskId */
  task(taskId) {
    return this._request("GET", `/v1/tasks/${encodeURIComponent(taskId)}`);
  }

  /** Every task the service remembers. */
  tasks() {
    return this._request("GET", "/v1/tasks");
  }

  /** Follow a task that already exists. @param {string} taskId @returns {Task} */
  watchTask(taskId) {
    return new Task(this, this.task(taskId));
  }
}
