// The console's entry point: tabs, the admin token (local stack), the three pages.

import { loadConfig, showError, takeTokenFromFragment } from "./api.js";
import { initKeys, showKeys } from "./keys.js";
import { initPlayground } from "./playground.js";
import { initSpend, showSpend } from "./spend.js";

const PAGES = { spend: showSpend, keys: showKeys, playground: async () => {} };

function select(page) {
  for (const name of Object.keys(PAGES)) {
    const on = name === page;
    document.getElementById(`tab-${name}`).setAttribute("aria-selected", String(on));
    document.getElementById(name).hidden = !on;
  }
  return PAGES[page]();
}

async function main() {
  takeTokenFromFragment();
  initSpend();
  initKeys();
  initPlayground();
  for (const name of Object.keys(PAGES)) {
    document.getElementById(`tab-${name}`).addEventListener("click", () => select(name));
  }
  const r = await loadConfig();
  if (!r.ok) {
    const notice = document.getElementById("notice");
    notice.textContent = "The admin routes refused this page (no admin rights):";
    const pre = document.createElement("pre");
    pre.className = "error";
    pre.id = "access-error";
    notice.after(pre);
    showError(pre, r);
    return;
  }
  await select("spend");
  document.body.dataset.ready = "true";
}

main();
