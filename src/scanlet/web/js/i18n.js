// Strings of Scanlet's own pages: /web/i18n/<lang>.json, applied to [data-i18n] elements.
//
// <el data-i18n="home.title">            -> el.textContent = t("home.title")
// <el data-i18n-attr="aria-label:a.b;placeholder:c.d"> -> attributes
// The language comes from ?lang=, else the browser's languages, else English; setLang()
// switches it at run time (the URL keeps ?lang= so a reload or a link keeps it).

export const LANGUAGES = ["en", "de"];
const FALLBACK = "en";

let lang = FALLBACK;
let strings = {};
let fallback = {};
const listeners = new Set();

export function currentLang() {
  return lang;
}

/** The language a page starts in. */
export function detectLang() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked && LANGUAGES.includes(asked.toLowerCase())) return asked.toLowerCase();
  const preferred = navigator.languages?.length ? navigator.languages : [navigator.language];
  for (const tag of preferred) {
    const base = String(tag || "").toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return FALLBACK;
}

async function fetchStrings(code) {
  const response = await fetch(`/web/i18n/${code}.json`, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`strings for ${code}: HTTP ${response.status}`);
  return response.json();
}

function lookup(table, key) {
  let node = table;
  for (const part of key.split(".")) {
    if (node === null || typeof node !== "object" || !(part in node)) return undefined;
    node = node[part];
  }
  return typeof node === "string" ? node : undefined;
}

/** Whether a key has a string (in the current language or English). */
export function has(key) {
  return find(key) !== undefined;
}

function find(key) {
  return lookup(strings, key) ?? lookup(fallback, key);
}

/**
 * The string for `key` with {name} placeholders filled from `vars`. A key with plural forms
 * ({"one": …, "other": …}) picks its form by the number `vars.n`.
 */
export function t(key, vars = {}) {
  let text = find(key);
  if (text === undefined && typeof vars.n === "number") {
    const form = new Intl.PluralRules(lang).select(vars.n);
    text = find(`${key}.${form}`) ?? find(`${key}.other`);
  }
  text ??= key;
  return text.replace(/\{(\w+)\}/g, (match, name) =>
    Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : match);
}

/** Apply the strings to every marked element under `root`. */
export function translate(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}

/** Load and apply a language; listeners (onLangChange) re-render their dynamic parts. */
export async function setLang(code, { updateUrl = true } = {}) {
  const next = LANGUAGES.includes(code) ? code : FALLBACK;
  if (!Object.keys(fallback).length) fallback = await fetchStrings(FALLBACK);
  strings = next === FALLBACK ? fallback : await fetchStrings(next);
  lang = next;
  document.documentElement.lang = next;
  translate(document);
  if (updateUrl) {
    const url = new URL(location.href);
    url.searchParams.set("lang", next);
    history.replaceState(history.state, "", url);
  }
  for (const listener of listeners) {
    try {
      listener(next);
    } catch (error) {
      console.error(error);
    }
  }
}

export function onLangChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
