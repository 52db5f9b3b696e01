// Typed errors of the Scanlet SDK. Every error is a ScanletError carrying the service's stable
// `code` (see docs/api.md, "Errors"), the HTTP `status` when there was an answer, and a
// `guidance` sentence a page can show to its user.

/** Sentences a page can show for the codes a user can do something about. */
const GUIDANCE = {
  service_not_running: "Scanlet is not running on this computer, or it is not installed. " +
    "Start Scanlet (or install it), then try again.",
  local_network_permission: "The browser does not let this site reach Scanlet on this " +
    "computer. Allow local network access for this site in the browser's site settings, " +
    "then reload the page.",
  version_mismatch: "The Scanlet on this computer is too old for this page. Update Scanlet, " +
    "then try again.",
  network_error: "Scanlet is running but the browser blocked its answer: this site is " +
    "probably not paired with Scanlet, or its access was revoked. Pair again.",
  client_closed: "The connection to Scanlet was closed by the page.",
  pairing_denied: "Access was denied on Scanlet's page. Pair again and click Allow if you " +
    "trust this site.",
  pairing_expired: "The pairing request expired. Pair again and answer on Scanlet's page " +
    "within a few minutes.",
  pairing_not_found: "The pairing request expired. Pair again.",
  pairing_disabled: "Pairing is turned off on this computer: an administrator must allow " +
    "this site in Scanlet's settings.",
  unauthorized: "This site is not paired with Scanlet. Pair first.",
  token_invalid: "This site's access to Scanlet expired or was revoked. Pair again.",
  token_origin_mismatch: "This access token belongs to another site. Pair again.",
  scope_not_granted: "This site may not do that. Pair again and allow the needed access.",
  origin_not_allowed: "Scanlet does not accept requests from this site.",
  rate_limited: "Too many requests at once. Wait a moment, then try again.",
  too_many_tasks: "Too many tasks are running. Wait until one has finished, then try again.",
  too_many_sessions: "Too many pages use Scanlet at the moment. Close some, then try again.",
  device_not_found: "The scanner was not found. Check that it is connected and switched on.",
  feeder_empty: "Put paper in the document feeder, then scan again.",
  paper_jam: "Clear the paper jam, then scan again.",
  cover_open: "Close the scanner's cover, then scan again.",
  double_feed: "Take the sheets out of the feeder, straighten the stack, then scan again.",
  device_busy: "The scanner is busy. Wait until it is free, then try again.",
  device_access_denied: "Scanlet may not use this scanner. Check its permissions on this " +
    "computer.",
  driver_unavailable: "The scanner's driver is not installed on this computer.",
  ocr_unavailable: "Text recognition (Tesseract) is not installed with Scanlet.",
  upload_target_refused: "Scanlet may not upload to this address.",
  upload_failed: "The upload failed: the server did not accept the file. Try again later.",
};

/**
 * Base of every error the SDK throws (except AbortError DOMExceptions from an aborted
 * `signal`, which are passed through as they are).
 */
export class ScanletError extends Error {
  /**
   * @param {string} message
   * @param {{code?: string, status?: number|null, title?: string, detail?: string,
   *          guidance?: string, problem?: object|null, retryAfter?: number|null,
   *          cause?: unknown}} [info]
   */
  constructor(message, info = {}) {
    super(message, info.cause === undefined ? undefined : { cause: info.cause });
    this.name = "ScanletError";
    /** The service's stable error code, e.g. "document_not_found". */
    this.code = info.code ?? "internal";
    /** HTTP status of the answer; null when the error did not come from an HTTP answer. */
    this.status = info.status ?? null;
    /** Short summary (the problem's `title`). */
    this.title = info.title ?? message;
    /** What happened, in words (the problem's `detail`). */
    this.detail = info.detail ?? message;
    /** A sentence a page can show its user (what to do). */
    this.guidance = info.guidance ?? GUIDANCE[this.code] ?? this.detail;
    /** The whole problem+json body (or a job's/task's `error` object), when there was one. */
    this.problem = info.problem ?? null;
    /** Seconds to wait before retrying (from `Retry-After`), when the service said so. */
    this.retryAfter = info.retryAfter ?? null;
    const problem = /** @type {Record<string, any>|null} */ (this.problem);
    /** The offending field of a validation error, when named. */
    this.field = problem && typeof problem.field === "string" ? problem.field : null;
    /** Allowed values of that field, when known. */
    this.allowed = problem && "allowed" in problem ? problem.allowed : null;
  }
}

/** No URL answered as a Scanlet service: it is not running, or not installed. */
export class NotRunningError extends ScanletError {
  /** @param {string[]} urls the URLs that were probed @param {unknown} [cause] */
  constructor(urls, cause) {
    super(`Scanlet did not answer at ${urls.join(", ")}`,
      { code: "service_not_running", title: "Scanlet is not running", cause });
    this.name = "NotRunningError";
    /** The URLs that were tried. */
    this.urls = [...urls];
  }
}

/** The browser's local-network permission for this site is denied (Chrome). */
export class LocalNetworkPermissionError extends ScanletError {
  /** @param {string[]} urls @param {string} permission the permission name that was denied */
  constructor(urls, permission) {
    super(`the browser denies this site access to the local network (${permission})`,
      { code: "local_network_permission", title: "Local network access is blocked" });
    this.name = "LocalNetworkPermissionError";
    this.urls = [...urls];
    /** The permission name the browser reported as denied. */
    this.permission = permission;
  }
}

/** The service is older than the page asked for (`minVersion`). */
export class VersionError extends ScanletError {
  /** @param {string} serviceVersion @param {string} minVersion */
  constructor(serviceVersion, minVersion) {
    super(`Scanlet ${serviceVersion} is older than the required ${minVersion}`,
      { code: "version_mismatch", title: "Scanlet is too old" });
    this.name = "VersionError";
    this.serviceVersion = serviceVersion;
    this.minVersion = minVersion;
  }
}

/** Pairing failed: denied by the user, expired, disabled, or refused by the service. */
export class PairingError extends ScanletError {
  /** @param {string} message @param {object} [info] as for ScanletError */
  constructor(message, info = {}) {
    super(message, { code: "pairing_error", ...info });
    this.name = "PairingError";
  }
}

/**
 * A request got no readable answer although the service runs: the browser blocked it (no CORS
 * answer for an unpaired or revoked site) or the connection broke.
 */
export class NetworkError extends ScanletError {
  /** @param {string} message @param {unknown} [cause] */
  constructor(message, cause) {
    super(message, { code: "network_error", title: "The request was blocked", cause });
    this.name = "NetworkError";
  }
}

/**
 * The error for a problem+json body (or any error answer).
 * @param {any} body the parsed body (may be null)
 * @param {number} status
 * @param {string|null} [retryAfter] the Retry-After header
 * @returns {ScanletError}
 */
export function errorFromProblem(body, status, retryAfter = null) {
  const problem = body && typeof body === "object" ? body : null;
  const code = problem && typeof problem.code === "string" ? problem.code : `http_${status}`;
  const title = problem && typeof problem.title === "string" ? problem.title : `HTTP ${status}`;
  const detail = problem && typeof problem.detail === "string" ? problem.detail : title;
  const seconds = retryAfter != null && /^\d+$/.test(retryAfter.trim())
    ? Number(retryAfter.trim())
    : (problem && typeof problem.retry_after === "number" ? problem.retry_after : null);
  const info = { code, status, title, detail, problem, retryAfter: seconds };
  return code.startsWith("pairing_") ? new PairingError(detail, info)
    : new ScanletError(detail, info);
}

/**
 * The error for a job's or task's `error` object ({code, message, detail}).
 * @param {any} error
 * @param {string} [fallbackCode]
 * @returns {ScanletError}
 */
export function errorFromInfo(error, fallbackCode = "internal") {
  const code = error && typeof error.code === "string" ? error.code : fallbackCode;
  const message = error && typeof error.message === "string" ? error.message : code;
  const extra = error && error.detail && typeof error.detail === "object" ? error.detail : {};
  return new ScanletError(message, {
    code, title: message, detail: message, problem: { ...extra, ...(error || {}) },
    retryAfter: typeof extra.retry_after === "number" ? extra.retry_after : null,
  });
}
