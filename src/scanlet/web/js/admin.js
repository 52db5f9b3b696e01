// The administration page (/admin): paired sites, API keys, log level, listeners, certificate.
// It calls the admin API (scope "admin") from the service's own origin, which needs no token;
// from anywhere else the API refuses, and the page says so.

import {
  api, el, formatDate, hideAlert, initPage, label, onLangChange, showAlert, t,
} from "./common.js";

const $ = (id) => document.getElementById(id);
const alertBox = $("alert");
const actionStatus = $("action-status");

const state = {
  sites: null, keys: null, log: null, status: null, error: null, message: null, logMessage: null,
};

function scopePills(scopes) {
  return (scopes || []).map((scope) => el("span", { class: "pill" }, label("scope", scope)));
}

function shownError(error) {
  if (error && [401, 403].includes(error.status)) {
    // Not the own origin (or a key without the admin scope): say where the page works.
    return { code: error.code, detail: error.detail, message: error.message,
      guidance: t("admin.refused", { url: `${location.origin}/admin` }) };
  }
  return error;
}

function renderSites() {
  if (!state.sites) return;
  $("sites").replaceChildren(...state.sites.map((site) => {
    const how = [];
    if (site.paired) how.push(t("admin.viaPairing"));
    if (site.allowed_by) how.push(label("allowedBy", site.allowed_by));
    const revoke = el("button", {
      type: "button", class: "danger", dataset: { action: "revoke-site", origin: site.origin },
      "aria-label": t("admin.revokeSiteLabel", { origin: site.origin }),
      disabled: !site.revocable, title: site.revocable ? null : t("admin.configOnly"),
    }, t("admin.revoke"));
    return el("tr", { dataset: { origin: site.origin } },
      el("td", { class: "origin", dataset: { label: t("admin.origin") } }, site.origin),
      el("td", { dataset: { label: t("admin.scopes") } }, scopePills(site.scopes)),
      el("td", { dataset: { label: t("admin.how") } }, how.join(", ")),
      el("td", { dataset: { label: t("admin.expires") } },
        site.token_expires ? formatDate(site.token_expires) : "—"),
      el("td", {}, revoke));
  }));
  $("sites-empty").hidden = state.sites.length > 0;
  $("sites-table").hidden = state.sites.length === 0;
}

function renderKeys() {
  if (!state.keys) return;
  $("keys").replaceChildren(...state.keys.map((key) => {
    const revoke = el("button", {
      type: "button", class: "danger", dataset: { action: "revoke-key", keyId: key.id },
      "aria-label": t("admin.revokeKeyLabel", { name: key.name }),
      disabled: key.cli, title: key.cli ? t("admin.cliKey") : null,
    }, t("admin.revoke"));
    return el("tr", { dataset: { keyId: key.id } },
      el("td", { dataset: { label: t("admin.keyName") } }, key.name,
        key.cli ? el("span", { class: "sub" }, t("admin.cliKeyShort")) : null),
      el("td", { dataset: { label: t("admin.scopes") } }, scopePills(key.scopes)),
      el("td", { dataset: { label: t("admin.created") } }, formatDate(key.created)),
      el("td", {}, revoke));
  }));
}

function renderLog() {
  if (!state.log) return;
  $("log-level").value = state.log.level;
  $("log-configured").textContent = label("logLevel", state.log.configured_level);
  $("log-file").textContent = state.log.file || t("admin.noLogFile");
  $("log-status").textContent = state.logMessage
    ? t("admin.logChanged", { level: label("logLevel", state.logMessage.level) }) : "";
}

function renderStatus() {
  const status = state.status;
  if (!status) return;
  $("listeners").replaceChildren(...status.listeners.map((lis) => el("li", {},
    el("a", { href: lis.url }, lis.url),
    el("span", { class: "sub" }, t("admin.listenerDetail", { scheme: lis.scheme.toUpperCase(),
      host: lis.host, port: lis.port })))));
  $("version").textContent = `${status.version} (${status.build})`;
  $("data-dir").textContent = status.data_dir;
  $("workers").textContent = String(status.workers);

  const https = status.https;
  $("https").textContent = https.enabled
    ? t("admin.httpsOn", { port: https.port ?? "—" }) : t("admin.httpsOff");
  const cert = https.certificate;
  if (!cert) {
    $("cert-state").replaceChildren(el("span", { class: "pill" }, t("admin.noCert")),
      ...(https.problem ? [el("span", { class: "sub" }, https.problem)] : []));
    for (const id of ["cert-until", "cert-names", "cert-sha"]) $(id).textContent = "—";
  } else {
    $("cert-state").replaceChildren(
      el("span", { class: cert.valid ? "pill ok" : "pill bad" },
        t(cert.valid ? "admin.certValid" : "admin.certInvalid")),
      el("span", { class: "sub" }, label("certSource", cert.source)),
      ...(cert.problem ? [el("span", { class: "sub" }, cert.problem)] : []));
    $("cert-until").textContent = `${formatDate(cert.not_after)} · ${
      t("admin.daysLeft", { n: cert.days_left })}`;
    $("cert-names").textContent = cert.names.join(", ");
    $("cert-sha").replaceChildren(el("code", {}, cert.sha256));
  }
  const trust = https.trust;
  let trustText = t("admin.adminCert");
  if (!cert) {
    trustText = "—";
  } else if (trust) {
    trustText = trust.installed
      ? t(trust.current ? "admin.trusted" : "admin.trustOutdated") : t("admin.notTrusted");
    if (trust.problem) trustText += ` (${trust.problem})`;
  }
  $("cert-trust").textContent = trustText;
}

function render() {
  if (state.error) showAlert(alertBox, shownError(state.error));
  else hideAlert(alertBox);
  actionStatus.textContent = state.message ? t(state.message.key, state.message.vars) : "";
  renderSites();
  renderKeys();
  renderLog();
  renderStatus();
}

async function load() {
  try {
    const [sites, keys, log, status] = await Promise.all([
      api("GET", "/v1/sites"), api("GET", "/v1/keys"), api("GET", "/v1/admin/log"),
      api("GET", "/v1/admin/status")]);
    Object.assign(state, { sites, keys, log, status, error: null });
  } catch (error) {
    state.error = error;
  }
  render();
}

async function act(work, message) {
  try {
    await work();
    state.error = null;
    state.message = message;
  } catch (error) {
    state.error = error;
    state.message = null;
  }
  await load();
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button || button.disabled) return;
  if (button.dataset.action === "revoke-site") {
    const origin = button.dataset.origin;
    button.disabled = true;
    act(() => api("DELETE", `/v1/sites/${encodeURIComponent(origin)}`),
      { key: "admin.siteRevoked", vars: { origin } }).then(() => $("sites-heading").focus());
  } else if (button.dataset.action === "revoke-key") {
    const row = button.closest("tr");
    const name = state.keys?.find((k) => k.id === button.dataset.keyId)?.name ?? "";
    button.disabled = true;
    act(() => api("DELETE", `/v1/keys/${encodeURIComponent(button.dataset.keyId)}`),
      { key: "admin.keyRevoked", vars: { name } }).then(() => {
      if (!row.isConnected) $("keys-heading").focus();
    });
  }
});

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("key-name").value.trim();
  const scopes = [...document.querySelectorAll("#key-scopes input:checked")].map((i) => i.value);
  if (!name || !scopes.length) {
    state.message = { key: name ? "admin.needScope" : "admin.needName", vars: {} };
    render();
    (name ? document.querySelector("#key-scopes input") : $("key-name")).focus();
    return;
  }
  act(async () => {
    const made = await api("POST", "/v1/keys", { name, scopes });
    $("new-key-value").textContent = made.key;
    $("new-key").hidden = false;
    $("key-name").value = "";
  }, { key: "admin.keyCreated", vars: { name } }).then(() => {
    if (!$("new-key").hidden) $("copy-key").focus();
  });
});

$("copy-key").addEventListener("click", async () => {
  const secret = $("new-key-value").textContent;
  try {
    await navigator.clipboard.writeText(secret);
    state.message = { key: "admin.copied", vars: {} };
  } catch {
    const range = document.createRange();
    range.selectNodeContents($("new-key-value"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    state.message = { key: "admin.copySelect", vars: {} };
  }
  render();
});

$("log-level").addEventListener("change", () => {
  const level = $("log-level").value;
  state.logMessage = null;
  act(async () => {
    state.log = await api("PUT", "/v1/admin/log", { level });
    state.logMessage = { level: state.log.level };
  }, null);
});

$("retry").addEventListener("click", () => load());
for (const id of ["sites-heading", "keys-heading"]) $(id).setAttribute("tabindex", "-1");
onLangChange(render);
await initPage();
await load();
