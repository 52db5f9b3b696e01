// <scanlet-viewer> in Vue 3 without a build step: the esm-browser build compiles the template
// string at runtime (which needs 'unsafe-eval'), told that scanlet-* are custom elements.
// ?bind=attr binds the document as docs/sdk.md does (:document-id, an attribute);
// ?bind=prop as a property (:documentId.prop). The client is always :client.prop.
import { documentIds, log, pairedClient } from "/common.js";

const params = new URLSearchParams(location.search);
const build = params.get("build") === "prod" ? "prod" : "dev";
const { createApp, computed, ref, shallowRef, version } = await import(`/vendor/${build}/vue.js`);
const documentBinding = params.get("bind") === "prop"
  ? ':documentId.prop="documentId"' : ':document-id="documentId"';

const template = `
<main>
  <p>Selected: <output id="selection">{{ selection.join(",") }}</output></p>
  <p>Renders: <output id="renders">{{ renders }}</output></p>
  <p>Document: <output id="document">{{ documentId }}</output></p>
  <button type="button" id="rerender" @click="renders++">Re-render</button>
  <button type="button" id="switch" @click="next">Next document</button>
  <scanlet-viewer :client.prop="client" ${documentBinding} :data-renders="renders"
                  style="height: 600px" @selectionchange="onSelection"></scanlet-viewer>
</main>`;

window.app.framework = `vue ${version}`;
window.app.ready = pairedClient().then((paired) => {
  const app = createApp({
    template,
    setup() {
      // Nothing in the client needs to be reactive. (ref() works too: Vue does not proxy
      // EventTargets such as the SDK's Client.)
      const client = shallowRef(paired);
      const docIndex = ref(0);
      const selection = ref([]);
      const renders = ref(0);
      const documentId = computed(() => documentIds[docIndex.value]);
      const next = () => { docIndex.value = (docIndex.value + 1) % documentIds.length; };
      const onSelection = (e) => {
        log.selectionEvents.push(e.detail.pageIds);
        selection.value = e.detail.pageIds;
      };
      return { client, documentId, selection, renders, next, onSelection };
    },
  });
  app.config.compilerOptions.isCustomElement = (tag) => tag.startsWith("scanlet-");
  app.config.errorHandler = (error) => {  // Vue catches errors of handlers and patches
    log.frameworkErrors.push(String(error && (error.stack || error)));
  };
  app.mount("#root");
  return true;
});
window.app.ready.catch((error) => { log.readyError = String(error && (error.stack || error)); });
