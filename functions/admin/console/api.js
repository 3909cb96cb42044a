// Calls to the admin routes and the gateway's inference routes. Nothing here is stored: the admin
// token (local stack only) and the playground's API key live in this module's memory and are
// gone when the page is closed or reloaded.

let adminToken = null;
// `proxied`: the bases are `gateway-admin console`'s own (AWS), which wants the token too.
let config = { api_url: null, stream_url: null, proxied: false };

/** Takes the local admin token from the URL fragment (`#token=...`, never sent to a server) and
 * removes it from the address bar. */
export function takeTokenFromFragment() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    adminToken = decodeURIComponent(m[1]);
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function adminHeaders(extra = {}) {
  const h = { ...extra };
  if (adminToken) h["x-gateway-admin-token"] = adminToken;
  return h;
}

/** The answer of a call: status, parsed JSON (or null) and the raw text (errors are shown as is). */
async function answer(resp) {
  const text = await resp.text();
  let body = null;
  try { body = JSON.parse(text); } catch { /* not JSON: shown as text */ }
  return { ok: resp.ok, status: resp.status, body, text };
}

/** An admin route, relative to the console (`<base>/console/` -> `<base>/v1/admin/...`). */
export async function admin(method, path, body) {
  const init = { method, headers: adminHeaders(), credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return answer(await fetch(new URL(`../${path}`, location.href), init));
}

/** Reads /console/config.json (where the inference routes are). */
export async function loadConfig() {
  const r = await admin("GET", "console/config.json");
  if (r.ok && r.body) config = r.body;
  return r;
}

/** The base URL of a gateway function: configured on AWS, `/lambda-url/<fn>` locally. */
export function functionBase(fn) {
  const configured = fn === "stream-url" ? config.stream_url : config.api_url;
  if (configured) return configured;
  const at = location.pathname.indexOf("/lambda-url/");
  const root = at >= 0 ? location.pathname.slice(0, at) : "";
  return `${location.origin}${root}/lambda-url/${fn}`;
}

/** The headers of an inference call: the API key, and the proxy's token through the proxy only
 * (never to the functions themselves). */
function gatewayHeaders(key) {
  const h = config.proxied ? adminHeaders() : {};
  if (key) h.authorization = `Bearer ${key}`;
  return h;
}

/** An inference route with the operator's API key. */
export async function gateway(fn, method, path, key, body) {
  const init = { method, headers: gatewayHeaders(key), credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return answer(await fetch(functionBase(fn) + path, init));
}

/** A streamed POST: returns the fetch Response (the caller reads its body). */
export function gatewayStream(fn, path, key, body) {
  return fetch(functionBase(fn) + path, {
    method: "POST",
    credentials: "omit",
    cache: "no-store",
    headers: { ...gatewayHeaders(key), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Shows an error answer as it came (pretty-printed JSON when it is JSON). */
export function showError(el, r) {
  if (!r) { el.hidden = true; el.textContent = ""; return; }
  el.hidden = false;
  el.textContent = `HTTP ${r.status}\n` + (r.body ? JSON.stringify(r.body, null, 2) : r.text);
}
