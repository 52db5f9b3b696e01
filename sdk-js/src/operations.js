// Long-running operations of the Scanlet SDK: scan jobs and processing tasks (OCR, upload).
// Both follow the service's event WebSocket and fall back to polling when it breaks.

import { ScanletError, errorFromInfo } from "./errors.js";

const JOB_FINISHED = new Set(["completed", "failed", "cancelled", "interrupted"]);
const TASK_FINISHED = new Set(["completed", "failed", "cancelled"]);
/** Polling interval (ms) when the event socket is not available. */
const POLL_MS = 1000;

const ignore = () => {};

/** @param {number} ms @returns {Promise<void>} */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What ScanJob and Task share: a thenable over `done`, an event socket, a polling fallback.
 * Not exported from the package; use ScanJob or Task.
 */
class Operation extends EventTarget {
  /**
   * @param {any} client the Client
   * @param {Promise<any>} start resolves with the first info (JobInfo/TaskInfo)
   * @param {Set<string>} finished states that end the operation
   */
  constructor(client, start, finished) {
    super();
    /** @protected */ this._client = client;
    /** @protected */ this._finished = finished;
    /** @protected */ this._socket = null;
    /** @type {string|null} the id, set once the service created the operation */
    this.id = null;
    /** @type {any} the latest info the service sent */
    this.info = null;
    /** @type {Promise<any>} resolves once the service accepted the operation */
    this.ready = start.then((info) => {
      this.id = info.id;
      this.info = info;
      return info;
    });
    /** @type {Promise<any>} resolves with the final info; rejects when it failed */
    this.done = this.ready.then((info) => this._follow(info));
    // Callers may await only one of them: no "unhandled rejection" for the other.
    this.ready.catch(ignore);
    this.done.catch(ignore);
  }

  /** `await op` waits for `op.done`. */
  then(onFulfilled, onRejected) {
    return this.done.then(onFulfilled, onRejected);
  }

  catch(onRejected) {
    return this.done.catch(onRejected);
  }

  finally(onFinally) {
    return this.done.finally(onFinally);
  }

  /** @protected @param {string} type @param {any} detail */
  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** @protected the WebSocket path of the events; overridden */
  _eventsPath() {
    throw new Error("not implemented");
  }

  /**
   * A new info arrived (from the socket, or polled); overridden.
   * @protected @param {any} info @param {boolean} [changed] false: polled, same state
   */
  _onInfo(info, changed = true) {
    void changed;
    this.info = info;
  }

  /** @protected @param {any} message a parsed socket message; overridden */
  _onMessage(message) {
    void message;
  }

  /** @protected @returns {Promise<any>} fresh info (polling); overridden */
  _fetchInfo() {
    throw new Error("not implemented");
  }

  /** @protected extra work while polling (ScanJob: new pages) */
  async _pollExtra() {}

  /**
   * The error to reject `done` with for a finished info, or null when it ended well.
   * @protected @param {any} info @returns {ScanletError|null}
   */
  _failure(info) {
    if (info.state === "completed" || info.state === "cancelled") return null;
    return errorFromInfo(info.error, info.state);
  }

  /** @private @param {any} info */
  _follow(info) {
    if (this._finished.has(info.state)) {
      const failure = this._failure(info);
      return failure ? Promise.reject(failure) : Promise.resolve(info);
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (/** @type {any} */ last) => {
        if (settled) return;
        settled = true;
        this._closeSocket();
        const failure = this._failure(last);
        if (failure) reject(failure); else resolve(last);
      };
      const fail = (/** @type {unknown} */ error) => {
        if (settled) return;
        settled = true;
        this._closeSocket();
        reject(error);
      };
      /** @type {WebSocket|null} */
      let socket = null;
      try {
        socket = this._client._openSocket(this._eventsPath(), this);
      } catch {
        socket = null;
      }
      if (socket === null) {
        this._poll(finish, fail);
        return;
      }
      this._socket = socket;
      socket.onmessage = (event) => {
        let message;
        try {
          message = JSON.parse(String(event.data));
        } catch {
          return;
        }
        if (!message || typeof message !== "object") return;
        if (message.type === "error") {
          fail(errorFromInfo(message.error));
          return;
        }
        const infoKey = this._infoKey();
        if (message.type === infoKey && message[infoKey]) {
          this._onInfo(message[infoKey]);
          if (this._finished.has(message[infoKey].state)) finish(message[infoKey]);
          return;
        }
        this._onMessage(message);
      };
      socket.onclose = () => {
        if (this._socket === socket) this._socket = null;
        if (settled) return;
        if (this._client._closed) {
          fail(new ScanletError("the client was closed", { code: "client_closed" }));
          return;
        }
        this._poll(finish, fail);  // the socket broke or was refused: ask over HTTP
      };
    });
  }

  /** @protected @returns {string} "job" or "task" */
  _infoKey() {
    return "job";
  }

  /** @private */
  async _poll(finish, fail) {
    try {
      for (;;) {
        if (this._client._closed) {
          fail(new ScanletError("the client was closed", { code: "client_closed" }));
          return;
        }
        const info = await this._fetchInfo();
        await this._pollExtra();
        const before = this.info && this.info.state;
        this._onInfo(info, before !== info.state);
        if (this._finished.has(info.state)) {
          finish(info);
          return;
        }
        await sleep(POLL_MS);
      }
    } catch (error) {
      fail(error);
    }
  }

  /** @protected */
  _closeSocket() {
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      this._client._forgetSocket(socket);
      try {
        socket.close();
      } catch {
        // already closed
      }
    }
  }
}

/**
 * A scan job: returned at once by `client.scan()`. `await job` (or `job.done`) gives the
 * final JobInfo; `job.ready` resolves once `POST /v1/jobs` answered.
 *
 * Events (CustomEvent, data in `event.detail`): `page` {page, pagesStored, pageLimit} for each
 * stored page, `progress` {pageIndex, fraction, pagesStored, pageLimit} while a page is read,
 * `state` {job} on each state change, `pagedropped` {…the service's event} for blank pages
 * dropped by `processing.drop_blank`.
 */
export class ScanJob extends Operation {
  /**
   * @param {any} client the Client
   * @param {Promise<any>} start resolves with the JobInfo of the created job
   */
  constructor(client, start) {
    super(client, start, JOB_FINISHED);
    /** @type {any[]} the pages stored so far, in the order they were stored */
    this.pages = [];
    /** @type {Set<string>} */
    this._seen = new Set();
    /** @type {string|null} the document the pages go to */
    this.documentId = null;
    this.ready.then((info) => {
      this.documentId = info.document_id;
    }, ignore);
  }

  /** Cancel the job; pages stored so far are kept. Cancelling a finished job does nothing. */
  async cancel() {
    const info = await this.ready;
    try {
      await this._client._request("POST", `/v1/jobs/${encodeURIComponent(info.id)}/cancel`);
    } catch (error) {
      if (!(error instanceof ScanletError) || error.code !== "job_state") throw error;
    }
  }

  _eventsPath() {
    return `/v1/jobs/${encodeURIComponent(this.id)}/events`;
  }

  _infoKey() {
    return "job";
  }

  _onInfo(info, changed = true) {
    this.info = info;
    if (!changed) return;
    this._emit("state", { job: info });
    this._client._emit("job", info);
  }

  /** @private @param {any} page @param {any} pagesStored @param {any} pageLimit */
  _addPage(page, pagesStored, pageLimit) {
    if (!page || this._seen.has(page.id)) return;
    this._seen.add(page.id);
    this.pages.push(page);
    this._emit("page", { page, pagesStored: pagesStored ?? this.pages.length,
      pageLimit: pageLimit ?? null });
    this._client._emit("page", { page, job: this });
  }

  _onMessage(message) {
    if (message.type === "page") {
      this._addPage(message.page, message.pages_stored, message.page_limit);
    } else if (message.type === "progress") {
      this._emit("progress", {
        pageIndex: message.page_index, fraction: message.fraction,
        pagesStored: message.pages_stored, pageLimit: message.page_limit ?? null,
      });
    } else if (message.type === "page_dropped") {
      this._emit("pagedropped", message);
    }
  }

  _fetchInfo() {
    return this._client.job(this.id);
  }

  async _pollExtra() {
    if (!this.documentId) return;
    const pages = await this._client.pages(this.documentId);
    for (const page of pages) {
      if (page.job_id === this.id) this._addPage(page, null, null);
    }
  }
}

/**
 * A processing task (OCR, upload): `await task` (or `task.done`) gives the final TaskInfo;
 * `task.ready` resolves once the service accepted it.
 *
 * Events: `progress` {done, total, unit, rate}, `state` {task}.
 */
export class Task extends Operation {
  /**
   * @param {any} client the Client
   * @param {Promise<any>} start resolves with the TaskInfo of the accepted task
   */
  constructor(client, start) {
    super(client, start, TASK_FINISHED);
  }

  /** Cancel the task. Cancelling a finished task does nothing. */
  async cancel() {
    const info = await this.ready;
    try {
      await this._client._request("POST", `/v1/tasks/${encodeURIComponent(info.id)}/cancel`);
    } catch (error) {
      if (!(error instanceof ScanletError) || error.code !== "job_state") throw error;
    }
  }

  /**
   * The file the task produced (a searchable PDF, the text, the hOCR), once it completed.
   * @returns {Promise<Blob>}
   */
  async file() {
    const info = await this.done;
    return this._client._request("GET", `/v1/tasks/${encodeURIComponent(info.id)}/file`,
      { expect: "blob" });
  }

  _eventsPath() {
    return `/v1/tasks/${encodeURIComponent(this.id)}/events`;
  }

  _infoKey() {
    return "task";
  }

  _onInfo(info, changed = true) {
    this.info = info;
    if (!changed) return;
    this._emit("state", { task: info });
    this._client._emit("task", info);
  }

  _onMessage(message) {
    if (message.type === "progress") {
      const { done, total, unit, rate } = message;
      if (this.info) this.info = { ...this.info, done, total, unit, rate };
      this._emit("progress", { done, total, unit, rate: rate ?? null });
    }
  }

  _fetchInfo() {
    return this._client.task(this.id);
  }
}
