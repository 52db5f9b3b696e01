// Shared by Scanlet's own pages: language switch, calls of the admin API, error display,
// formatting, and a tiny DOM builder (text only: nothing from the service becomes HTML).

import { currentLang, detectLang, has, onLangChange, setLang, t } from "./i18n.js";

export { currentLang, onLangChange, t };

/** Load the strings, wire the language switch; call once at the top of a page module. */
export async function initPage() {
  try {
    await setLang(detectLang(), { updateUrl: false });
  } catch (error) {
    console.error("strings could not be loaded; the page stays in English", error);
  }
  const select = document.getElementById("lang");
  if (select) {
    select.value = currentLang();
    select.addEventListener("change", () => {
      setLang(select.value).catch((error) => console.error(error));
    });
  }
  const linkLang = () => {
    if (select) select.value = currentLang();
    for (const link of document.querySelectorAll("a[data-keep-lang]")) {
      const url = new URL(link.getAttribute("href"), location.origin);
      url.searchParams.set("lang", currentLang());
      link.setAttribute("href", url.pathname + url.search);
    }
  };
  linkLang();
  onLangChange(linkLang);
}

/** A refusal or failure of a direct API call, shaped like the SDK's errors. */
export class ApiError extends Error {
  constructor(status, problem, fallbackMessage) {
    super(problem?.detail || problem?.title || fallbackMessage || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = problem?.code || (status ? `http_${status}` : "service_not_running");
    this.title = problem?.title || "";
    this.detail = problem || null;
  }
}

/**
 * Call the service's API from its own origin (no token: the service trusts its own pages).
 * Used for the admin routes the SDK does not wrap. JSON in, JSON out (null for 204).
 */
export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    const failure = new ApiError(0, null, String(error));
    failure.code = "service_not_running";
    throw failure;
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) throw new ApiError(response.status, data, response.statusText);
  return data;
}

/** Title, text and code to show for an error of the SDK, of api(), or anything else. */
export function describeError(error) {
  const code = typeof error?.code === "string" ? error.code : "";
  const title = code && has(`errors.${code}`) ? t(`errors.${code}`) : t("errors.generic");
  // The SDK's guidance is English; another language uses its own sentence when it has one.
  let text = "";
  const own = code && has(`guidance.${code}`) ? t(`guidance.${code}`) : "";
  if (typeof error?.guidance === "string" && error.guidance
      && (currentLang() === "en" || !own)) {
    text = error.guidance;
  } else {
    text = own;
  }
  const detail = error?.detail?.detail || (typeof error?.detail === "string" ? error.detail : "")
    || error?.message || String(error ?? "");
  return { code: code || "error", title, text, detail: detail === text ? "" : detail };
}

/** Fill an alert box (.alert-title, .alert-text, .alert-detail inside it) and show it. */
export function showAlert(box, error) {
  const info = describeError(error);
  box.dataset.code = info.code;
  box.querySelector(".alert-title").textContent = info.title;
  const text = box.querySelector(".alert-text");
  text.textContent = info.text;
  text.hidden = !info.text;
  const detail = box.querySelector(".alert-detail");
  if (detail) {
    detail.textContent = info.detail;
    detail.hidden = !info.detail;
  }
  box.hidden = false;
  return info;
}

export function hideAlert(box) {
  box.hidden = true;
  delete box.dataset.code;
}

/** Build an element: el("li", {class: "x", dataset: {id: 1}}, "text", child). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function formatDuration(seconds) {
  const total = Math.max(0, Math.floor(Number(seconds) || 0));
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d) return t("format.days", { d, h, m });
  if (h) return t("format.hours", { h, m });
  if (m) return t("format.minutes", { m, s });
  return t("format.seconds", { s });
}

export function formatDate(value) {
  if (!value) return t("common.never");
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat(currentLang(), { dateStyle: "medium", timeStyle: "short" })
    .format(date);
}

export function formatBytes(bytes) {
  const n = Number(bytes) || 0;
  const units = ["B", "kB", "MB", "GB"];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return `${new Intl.NumberFormat(currentLang(), { maximumFractionDigits: i ? 1 : 0 }).format(v)} ${units[i]}`;
}

/** A translated label for a scope, source, mode or state, falling back to the raw value. */
export function label(group, value) {
  const key = `${group}.${value}`;
  return has(key) ? t(key) : String(value);
}

const spoken = new Set();

function renderSaid(node) {
  const message = node._scanletMessage;
  node.textContent = message ? t(message.key, message.vars) : "";
  node.classList.toggle("ok", message?.tone === "ok");
  node.classList.toggle("bad", message?.tone === "bad");
}

/**
 * Show a translated message in a status element (kept in the new language on a switch).
 * `key` null clears it; `tone` "ok" or "bad" colours it.
 */
export function say(node, key, vars = {}, tone = "") {
  node._scanletMessage = key ? { key, vars, tone } : null;
  spoken.add(node);
  renderSaid(node);
}

onLangChange(() => {
  for (const node of spoken) renderSaid(node);
});
