// The welcome and status page (/): version, uptime, scanners, running scans, data folder.

import { connect } from "/sdk/scanlet.js";
import {
  api, el, formatDuration, hideAlert, initPage, label, onLangChange, showAlert, t,
} from "./common.js";

const REFRESH_MS = 5000;
const $ = (id) => document.getElementById(id);
const alertBox = $("alert");

let client = null;
let busy = false;
const state = {
  version: null, devices: null, jobs: null, health: null, status: null, statusError: null,
  uptime: null, uptimeAt: 0, error: null,
};

function renderUptime() {
  if (state.uptime === null) return;
  const seconds = state.uptime + (performance.now() - state.uptimeAt) / 1000;
  $("uptime").textContent = formatDuration(seconds);
}

function render() {
  if (state.error) showAlert(alertBox, state.error);
  else hideAlert(alertBox);
  const version = state.version;
  // the build is admin-only (GET /v1/admin/status): the public /v1/version names no platform
  const build = state.status ? ` (${state.status.build})` : "";
  $("version").textContent = version ? `${version.version}${build}` : "…";
  renderUptime();
  const status = state.status;
  if (status) {
    $("data-dir").textContent = status.data_dir;
    $("listeners").replaceChildren(...status.listeners.map((lis) => el("li", {},
      el("a", { href: lis.url }, lis.url))));
  } else if (state.statusError) {
    $("data-dir").textContent = t("home.adminOnly");
    $("listeners").replaceChildren(el("li", {}, location.origin));
  }
  const demo = status ? status.demo : state.health?.demo;
  $("mode").textContent = demo === undefined ? "…" : t(demo ? "home.modeDemo" : "home.modeNormal");

  if (state.devices) {
    $("devices").replaceChildren(...state.devices.map((d) => el("li", { dataset: { deviceId: d.id } },
      d.label || d.name || d.id,
      el("span", { class: "sub" }, [d.vendor, d.model, d.type].filter(Boolean).join(" · ")),
      el("code", { class: "sub" }, d.id))));
    $("devices-empty").hidden = state.devices.length > 0;
  }
  if (state.jobs) {
    const running = state.jobs.filter((job) => ["pending", "running"].includes(job.state));
    const deviceName = (id) => {
      const device = state.devices?.find((d) => d.id === id);
      return device ? device.label || device.name || id : id ?? "";
    };
    $("jobs").replaceChildren(...running.map((job) => el("li", { dataset: { jobId: job.id } },
      `${deviceName(job.settings?.device)} · ${label("jobState", job.state)}`,
      el("span", { class: "sub" }, t("home.jobPages", { n: job.pages_stored })))));
    $("jobs-empty").hidden = running.length > 0;
  }
}

async function load() {
  if (busy) return;
  busy = true;
  try {
    if (!client) {
      client = await connect({ urls: [location.origin] });
      state.version = client.version;
    }
    const [devices, jobs, health] = await Promise.all([client.devices(), client.jobs(),
      client.health()]);
    Object.assign(state, { devices, jobs, health });
    try {
      state.status = await api("GET", "/v1/admin/status");
      state.statusError = null;
      state.uptime = state.status.uptime_seconds;
    } catch (error) {
      state.status = null;
      state.statusError = error;
      state.uptime = health.uptime_seconds;
    }
    state.uptimeAt = performance.now();
    state.error = null;
  } catch (error) {
    try {
      client?.close();
    } catch {
      // already closed
    }
    client = null;
    state.error = error;
  } finally {
    busy = false;
  }
  render();
}

$("snippet").textContent = [
  `import { connect } from "${location.origin}/sdk/scanlet.js";`,
  "const scanlet = await connect();",
  "const devices = await scanlet.devices();",
].join("\n");
$("retry").addEventListener("click", () => load());
onLangChange(render);
await initPage();
render();
await load();
setInterval(load, REFRESH_MS);
setInterval(renderUptime, 1000);
