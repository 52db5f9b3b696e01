// <scanlet-viewer> in React 18 without a build step: React.createElement instead of JSX, the
// UMD builds as globals. Pages is docs/sdk.md's React snippet: client and documentId set
// through a ref in useEffect, selectionchange listened to in another effect.
import { documentIds, log, pairedClient } from "/common.js";

const { createElement: h, StrictMode, useCallback, useEffect, useRef, useState } = window.React;
// ?onselect=inline: App passes a new onSelect arrow function on every render (not memoized).
const inlineOnSelect = new URLSearchParams(location.search).get("onselect") === "inline";

function Pages({ client, documentId, onSelect, renders }) {
  const ref = useRef(null);
  // The listener's effect comes first: React runs every cleanup of a render before its new
  // effects, so the event a documentId change fires finds the new listener attached.
  useEffect(() => {
    const el = ref.current, handler = (e) => onSelect(e.detail.pageIds);
    el.addEventListener("selectionchange", handler);
    return () => el.removeEventListener("selectionchange", handler);
  }, [onSelect]);
  useEffect(() => { ref.current.client = client; ref.current.documentId = documentId; },
            [client, documentId]);
  // data-renders changes on every re-render: React patches the custom element's attributes.
  return h("scanlet-viewer", { ref, style: { height: 600 }, "data-renders": renders });
}

function App({ client }) {
  const [docIndex, setDocIndex] = useState(0);
  const [selection, setSelection] = useState([]);
  const [renders, setRenders] = useState(0);
  const stable = useCallback((ids) => { log.selectionEvents.push(ids); setSelection(ids); }, []);
  const onSelect = inlineOnSelect
    ? (ids) => { log.selectionEvents.push(ids); setSelection(ids); } : stable;
  const documentId = documentIds[docIndex];
  return h("main", null,
    h("p", null, "Selected: ", h("output", { id: "selection" }, selection.join(","))),
    h("p", null, "Renders: ", h("output", { id: "renders" }, String(renders))),
    h("p", null, "Document: ", h("output", { id: "document" }, documentId)),
    h("button", { type: "button", id: "rerender", onClick: () => setRenders((n) => n + 1) },
      "Re-render"),
    h("button", { type: "button", id: "switch",
                  onClick: () => setDocIndex((i) => (i + 1) % documentIds.length) },
      "Next document"),
    h(Pages, { client, documentId, onSelect, renders }));
}

window.app.framework = `react ${window.React.version}`;
window.app.ready = pairedClient().then((client) => {
  const root = window.ReactDOM.createRoot(document.getElementById("root"));
  root.render(h(StrictMode, null, h(App, { client })));
  return true;
});
window.app.ready.catch((error) => { log.readyError = String(error && (error.stack || error)); });
