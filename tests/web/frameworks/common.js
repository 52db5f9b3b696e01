// What both framework pages share: the real SDK from this site's /sdk/ (sdk-js/src, as an npm
// install would give), a client paired with the service named in ?service=, and a log the
// test reads (window.app). Loaded as a module by react-app.js and vue-app.js.
import { connect } from "/sdk/scanlet.js";
import "/sdk/viewer.js";

const params = new URLSearchParams(location.search);

export const log = {
  pagesCalls: 0,            // client.pages() calls: a re-render must not reload the viewer
  selectionEvents: [],      // detail.pageIds of every selectionchange the framework handled
  edited: [],               // pageedited pages
  violations: [],           // CSP violations
  frameworkErrors: [],      // errors a framework caught (Vue's errorHandler)
  readyError: null,
};
window.app = { log, framework: null, build: params.get("build") };

document.addEventListener("securitypolicyviolation", (e) => {
  log.violations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
document.addEventListener("pageedited", (e) => {
  if (e.target.localName === "scanlet-viewer") log.edited.push(e.detail.page);
});

/** Document ids the page switches between (?docs=a,b). */
export const documentIds = (params.get("docs") || "").split(",").filter(Boolean);

/** Connect to the service and pair (the test origin is in allowed_origins: no consent). */
export async function pairedClient() {
  const client = await connect({ urls: [params.get("service")] });
  await client.pair({ appName: "framework test", openConsent: false });
  const pages = client.pages.bind(client);
  client.pages = (...args) => { log.pagesCalls++; return pages(...args); };
  return client;
}

/** Thumbnails of the (only) viewer, for the test. */
window.app.thumbs = () => {
  const viewer = document.querySelector("scanlet-viewer");
  if (!viewer || !viewer.shadowRoot) return [];
  return [...viewer.shadowRoot.querySelectorAll("[part~=thumb]")].map((li) => {
    const img = li.querySelector("img");
    return { id: li.dataset.pageId, selected: li.getAttribute("aria-selected") === "true",
             loaded: !!(img && img.complete && img.naturalWidth
                        && (img.getAttribute("src") || "").startsWith("blob:")) };
  });
};
