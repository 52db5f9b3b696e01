// The demo (/demo): choose a scanner and settings, scan, see the pages live in
// <scanlet-viewer>, edit them there, download a PDF, upload it. Uses only the public SDK.

import { connect } from "/sdk/scanlet.js";
import "/sdk/viewer.js";
import {
  currentLang, describeError, el, formatBytes, hideAlert, initPage, label, onLangChange, say,
  showAlert, t,
} from "./common.js";

const $ = (id) => document.getElementById(id);
const viewer = $("viewer");
const alertBox = $("alert");
const form = $("scan-form");
const RESOLUTIONS = [75, 100, 150, 200, 300, 400, 600, 1200];
const MULTI_SOURCES = ["feeder", "duplex"];

const state = {
  client: null,
  connecting: false,
  error: null,
  devices: [],
  capabilities: null,
  documentId: null,
  job: null,
  task: null,
  exporting: false,
};

// Display -------------------------------------------------------------------------------

function showError(error) {
  state.error = error;
  renderError();
  if (error) console.warn("scanlet:", describeError(error));
}

function renderError() {
  if (state.error) showAlert(alertBox, state.error);
  else hideAlert(alertBox);
}

function renderConnection() {
  const client = state.client;
  if (state.connecting) say($("conn-status"), "demo.connecting");
  else if (client) {
    say($("conn-status"), "demo.connected", { version: client.version?.version ?? "?",
      url: client.baseUrl }, "ok");
  } else say($("conn-status"), "demo.notConnected", {}, "bad");
  say($("connect"), client ? "demo.reconnect" : (state.error ? "common.retry" : "demo.connect"));
  $("connect").disabled = state.connecting;
}

function updateControls() {
  const ready = Boolean(state.client) && !state.connecting;
  const scanning = Boolean(state.job);
  const hasDevice = ready && state.devices.length > 0;
  for (const id of ["device", "source", "mode", "resolution"]) {
    $(id).disabled = !hasDevice || scanning;
  }
  const multi = MULTI_SOURCES.includes($("source").value);
  $("all-pages").disabled = !hasDevice || scanning || !multi;
  $("all-pages-label").hidden = !multi;
  if (!multi) $("all-pages").checked = false;
  $("pages").disabled = !hasDevice || scanning || $("all-pages").checked;
  $("scan").disabled = !hasDevice || scanning || !state.capabilities;
  $("cancel").disabled = !scanning;
  $("new-doc").disabled = !ready || scanning || !state.documentId;
  const hasDocument = ready && Boolean(state.documentId);
  $("export").disabled = !hasDocument || scanning || state.exporting;
  $("upload").disabled = !hasDocument || scanning || Boolean(state.task);
  $("upload-cancel").disabled = !state.task;
  renderConnection();
}

function option(value, text, selected = false) {
  return el("option", { value, selected }, text);
}

function fillDevices() {
  const select = $("device");
  const previous = select.value;
  select.replaceChildren(...state.devices.map((d) => option(d.id, d.label || d.name || d.id)));
  if (state.devices.some((d) => d.id === previous)) select.value = previous;
  if (!state.devices.length) select.replaceChildren(option("", t("demo.noDevices")));
}

function currentSource() {
  return state.capabilities?.sources?.find((s) => s.source === $("source").value) ?? null;
}

function resolutionsOf(source) {
  if (source.resolutions?.length) return [...source.resolutions].sort((a, b) => a - b);
  const range = source.resolution_range;
  if (!range) return [150];
  const step = range.step || 1;
  const fits = RESOLUTIONS.filter((r) => r >= range.min && r <= range.max
    && Math.abs((r - range.min) / step - Math.round((r - range.min) / step)) < 1e-6);
  return fits.length ? fits : [range.min];
}

function fillSettings() {
  const caps = state.capabilities;
  const sourceSelect = $("source");
  const previousSource = sourceSelect.value;
  const sources = caps?.sources ?? [];
  sourceSelect.replaceChildren(...sources.map((s) => option(s.source, label("source", s.source))));
  if (sources.some((s) => s.source === previousSource)) sourceSelect.value = previousSource;
  fillSourceSettings();
}

function fillSourceSettings() {
  const source = currentSource();
  const modeSelect = $("mode");
  const resSelect = $("resolution");
  const previousMode = modeSelect.value;
  const previousRes = Number(resSelect.value);
  if (!source) {
    modeSelect.replaceChildren();
    resSelect.replaceChildren();
    updateControls();
    return;
  }
  const modes = Object.keys(source.color_modes || {});
  modeSelect.replaceChildren(...modes.map((m) => option(m, label("colorMode", m))));
  if (modes.includes(previousMode)) modeSelect.value = previousMode;
  const resolutions = resolutionsOf(source);
  resSelect.replaceChildren(...resolutions.map((r) => option(String(r),
    t("demo.dpi", { n: r }))));
  const wanted = resolutions.includes(previousRes) ? previousRes
    : resolutions.reduce((best, r) => (Math.abs(r - 150) < Math.abs(best - 150) ? r : best));
  resSelect.value = String(wanted);
  updateControls();
}

function relabel() {
  // Option texts come from the strings: rebuild them in the new language.
  for (const opt of $("source").options) opt.textContent = label("source", opt.value);
  for (const opt of $("mode").options) opt.textContent = label("colorMode", opt.value);
  for (const opt of $("resolution").options) {
    opt.textContent = t("demo.dpi", { n: opt.value });
  }
  viewer.lang = currentLang();
  renderError();
  renderConnection();
}

// Connecting ----------------------------------------------------------------------------

async function connectNow() {
  if (state.connecting) return;
  state.connecting = true;
  try {
    state.client?.close();
  } catch {
    // already closed
  }
  state.client = null;
  state.capabilities = null;
  updateControls();
  try {
    const client = await connect({ urls: [location.origin] });
    state.client = client;
    viewer.client = client;
    state.devices = await client.devices();
    fillDevices();
    showError(null);
    state.connecting = false;
    await loadCapabilities();
  } catch (error) {
    try {
      state.client?.close();
    } catch {
      // already closed
    }
    state.client = null;
    showError(error);
  } finally {
    state.connecting = false;
    updateControls();
  }
}

async function loadCapabilities() {
  const deviceId = $("device").value;
  state.capabilities = null;
  updateControls();
  if (!state.client || !deviceId) return;
  try {
    state.capabilities = await state.client.capabilities(deviceId);
    fillSettings();
  } catch (error) {
    showError(error);
  }
  updateControls();
}

// Scanning ------------------------------------------------------------------------------

async function ensureDocument() {
  if (state.documentId) return state.documentId;
  const doc = await state.client.createDocument({ name: "Scanlet demo" });
  state.documentId = doc.id;
  viewer.documentId = doc.id;
  return doc.id;
}

function scanSettings(documentId) {
  const settings = {
    device: $("device").value,
    source: $("source").value,
    mode: $("mode").value,
    resolution: Number($("resolution").value),
    document_id: documentId,
  };
  if ($("all-pages").checked) settings.pages = "all";
  else settings.pages = Math.max(1, Math.min(500, Math.round(Number($("pages").value) || 1)));
  return settings;
}

async function scan() {
  if (!state.client || state.job) return;
  const progress = $("scan-progress");
  const status = $("scan-status");
  showError(null);
  progress.value = 0;
  say(status, "demo.scanStarting");
  let job = null;
  try {
    const documentId = await ensureDocument();
    const settings = scanSettings(documentId);
    job = state.client.scan(settings);
    state.job = job;
    updateControls();
    const limit = typeof settings.pages === "number" ? settings.pages : null;
    job.addEventListener("progress", (event) => {
      const { pagesStored, fraction, pageLimit } = event.detail;
      const pages = pageLimit ?? limit;
      progress.max = 1;
      progress.value = pages ? Math.min(1, ((pagesStored ?? 0) + (fraction ?? 0)) / pages)
        : (fraction ?? 0);
      say(status, "demo.scanningPage", { n: (pagesStored ?? 0) + 1 });
    });
    job.addEventListener("page", (event) => {
      say(status, "demo.pageStored", { n: event.detail.pagesStored });
    });
    const info = await job;
    progress.value = progress.max;
    if (info.state === "cancelled") say(status, "demo.scanCancelled", { n: job.pages.length });
    else say(status, "demo.scanDone", { n: job.pages.length }, "ok");
  } catch (error) {
    say(status, "demo.scanFailed", {}, "bad");
    showError(error);
  } finally {
    state.job = null;
    updateControls();
  }
}

async function cancelScan() {
  try {
    await state.job?.cancel();
  } catch (error) {
    showError(error);
  }
}

async function newDocument() {
  if (!state.client) return;
  try {
    const doc = await state.client.createDocument({ name: "Scanlet demo" });
    state.documentId = doc.id;
    viewer.documentId = doc.id;
    say($("scan-status"), "demo.newDocumentReady");
    say($("export-status"), null);
  } catch (error) {
    showError(error);
  }
  updateControls();
}

// Export and upload ---------------------------------------------------------------------

async function exportPdf() {
  if (!state.client || !state.documentId) return;
  state.exporting = true;
  updateControls();
  say($("export-status"), "demo.exporting");
  try {
    const name = await state.client.download(state.documentId, {
      format: "pdf", fileName: "scanlet-demo.pdf" });
    say($("export-status"), "demo.exported", { name }, "ok");
  } catch (error) {
    say($("export-status"), "demo.exportFailed", {}, "bad");
    showError(error);
  } finally {
    state.exporting = false;
    updateControls();
  }
}

async function upload() {
  if (!state.client || !state.documentId || state.task) return;
  const input = $("upload-url");
  const status = $("upload-status");
  const progress = $("upload-progress");
  if (!input.value.trim() || !input.checkValidity()) {
    say(status, "demo.uploadNeedsUrl", {}, "bad");
    input.focus();
    return;
  }
  showError(null);
  $("upload-result").hidden = true;
  progress.value = 0;
  say(status, "demo.uploadStarting");
  try {
    const task = state.client.upload(state.documentId, {
      url: input.value.trim(), format: "pdf", fileName: "scanlet-demo.pdf" });
    state.task = task;
    updateControls();
    task.addEventListener("progress", (event) => {
      const { done, total, unit } = event.detail;
      if (total) {
        progress.max = total;
        progress.value = Math.min(done, total);
      }
      if (unit === "bytes") {
        say(status, "demo.uploadBytes", { done: formatBytes(done), total: formatBytes(total) });
      }
    });
    const info = await task;
    progress.value = progress.max;
    if (info.state === "cancelled") {
      say(status, "demo.uploadCancelled");
      return;
    }
    const result = info.result || {};
    say(status, "demo.uploadDone", { status: result.status ?? "?" }, "ok");
    $("upload-target").textContent = result.target ?? "";
    $("upload-http").textContent = String(result.status ?? "");
    $("upload-body").textContent = result.body ?? (result.body_base64 ? "(binary)" : "");
    $("upload-result").hidden = false;
  } catch (error) {
    say(status, "demo.uploadFailed", {}, "bad");
    showError(error);
  } finally {
    state.task = null;
    updateControls();
  }
}

// Wiring --------------------------------------------------------------------------------

form.addEventListener("submit", (event) => {
  event.preventDefault();
  scan();
});
$("cancel").addEventListener("click", () => cancelScan());
$("new-doc").addEventListener("click", () => newDocument());
$("connect").addEventListener("click", () => connectNow());
$("retry").addEventListener("click", () => connectNow());
$("device").addEventListener("change", () => loadCapabilities());
$("source").addEventListener("change", () => fillSourceSettings());
$("all-pages").addEventListener("change", () => updateControls());
$("export").addEventListener("click", () => exportPdf());
$("upload-form").addEventListener("submit", (event) => {
  event.preventDefault();
  upload();
});
$("upload-cancel").addEventListener("click", () => {
  state.task?.cancel().catch((error) => showError(error));
});
viewer.addEventListener("error", (event) => {
  event.preventDefault(); // the page shows it (translated) instead of the viewer's own bar
  showError(event.detail?.error ?? event.detail);
});
onLangChange(relabel);
await initPage();
viewer.lang = currentLang();
updateControls();
await connectNow();
