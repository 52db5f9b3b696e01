// The consent page's Allow button (routes_pairing.consent_page), against double-click-jacking:
// a site can open this window on the first click of a double-click, and the second click would
// land on Allow. As browsers do with their permission prompts, Allow stays disabled until the
// window has been visible and focused for the page's data-delay-ms ([security]
// consent_delay_ms), and is disabled again (the wait starting over) whenever the window loses
// focus or is hidden. The service refuses an Allow that comes sooner after it served the page.

const form = document.getElementById("consent");
const allow = document.getElementById("allow");
const wait = document.getElementById("wait");
const delay = Math.max(0, Number(form?.dataset.delayMs) || 0);
let timer = null;

function inFront() {
  return document.visibilityState === "visible" && document.hasFocus();
}

function hold() {
  clearTimeout(timer);
  timer = null;
  allow.disabled = true;
  if (wait) wait.hidden = false;
}

function arm() {
  if (!inFront()) {
    hold();
    return;
  }
  if (timer !== null || !allow.disabled) return;
  timer = setTimeout(() => {
    timer = null;
    if (!inFront()) {
      hold();
      return;
    }
    allow.disabled = false;
    if (wait) wait.hidden = true;
  }, delay);
}

if (form && allow) {
  hold();
  document.addEventListener("visibilitychange", arm);
  window.addEventListener("focus", arm);
  window.addEventListener("blur", hold);
  arm();
}
