// Keys: list, issue (the key shown once, in the page only), change limits and models, revoke.
// Every action is one admin route; its JSON error is shown as it came.

import { admin, showError } from "./api.js";
import { el, table } from "./chart.js";

const $ = (id) => document.getElementById(id);
const LIMITS = ["budget_day_usd", "budget_month_usd", "requests_per_minute", "tokens_per_minute"];
const INTEGER = new Set(["requests_per_minute", "tokens_per_minute"]);
let changing = null;

function limitValue(name, raw) {
  if (raw === "none") return null;
  return INTEGER.has(name) && /^\d+$/.test(raw) ? Number(raw) : raw; // the route judges the rest
}

function limitsText(l = {}) {
  const parts = [];
  if (l.budget_day_usd != null) parts.push(`$${l.budget_day_usd}/day`);
  if (l.budget_month_usd != null) parts.push(`$${l.budget_month_usd}/month`);
  if (l.requests_per_minute != null) parts.push(`${l.requests_per_minute} rpm`);
  if (l.tokens_per_minute != null) parts.push(`${l.tokens_per_minute} tpm`);
  return parts.join(", ") || "none";
}

function button(text, label, onClick) {
  const b = el("button", { type: "button", "aria-label": label }, text);
  b.addEventListener("click", onClick);
  return b;
}

export async function showKeys() {
  const r = await admin("GET", "v1/admin/keys");
  showError($("keys-error"), r.ok ? null : r);
  if (!r.ok) return;
  const rows = r.body.data.map((k) => {
    const actions = el("span");
    if (!k.revoked) {
      actions.append(
        button("Change", `Change ${k.id}`, () => startChange(k)),
        document.createTextNode(" "),
        button("Revoke", `Revoke ${k.id}`, () => revoke(k.id)),
      );
    }
    const id = el("code", k.revoked ? { class: "revoked" } : {}, k.id);
    return [id, k.owner, k.prefix + "…", k.models.length ? k.models.join(", ") : "all",
      limitsText(k.limits), k.admin ? "yes" : "no", k.revoked ? `revoked ${k.revoked_at ?? ""}` : "active",
      k.created_at, actions];
  });
  $("keys-list").replaceChildren(table("keys-table", `${rows.length} keys`,
    ["Key ID", "Owner", "Prefix", "Models", "Limits", "Admin", "Status", "Created", "Actions"], rows));
}

async function issue(form) {
  const f = new FormData(form);
  const body = { owner: f.get("owner") };
  const models = String(f.get("models") || "").split(",").map((s) => s.trim()).filter(Boolean);
  if (models.length) body.models = models;
  if (f.get("admin")) body.admin = true;
  const limits = {};
  for (const name of LIMITS) {
    const raw = String(f.get(name) || "").trim();
    if (raw) limits[name] = limitValue(name, raw);
  }
  if (Object.keys(limits).length) body.limits = limits;
  const r = await admin("POST", "v1/admin/keys", body);
  showError($("keys-error"), r.ok ? null : r);
  if (!r.ok) return;
  form.reset();
  // Shown once, in the page only: never written to storage, cookies or the URL.
  $("issued-key").textContent = r.body.key;
  $("issued-key").dataset.keyId = r.body.key_id;
  $("issued").hidden = false;
  await showKeys();
}

function startChange(k) {
  changing = k.id;
  const form = $("change-form");
  form.reset();
  form.elements.models.value = k.models.join(", ");
  for (const name of LIMITS) form.elements[name].value = k.limits?.[name] ?? "";
  $("change-id").textContent = k.id;
  form.hidden = false;
  form.elements.models.focus();
}

async function change(form) {
  const body = {};
  const models = form.elements.models.value.trim();
  if (models === "*") body.models = [];
  else if (models) body.models = models.split(",").map((s) => s.trim()).filter(Boolean);
  const limits = {};
  for (const name of LIMITS) {
    const raw = form.elements[name].value.trim();
    if (raw) limits[name] = limitValue(name, raw);
  }
  if (Object.keys(limits).length) body.limits = limits;
  const r = await admin("PATCH", `v1/admin/keys/${encodeURIComponent(changing)}`, body);
  showError($("keys-error"), r.ok ? null : r);
  if (!r.ok) return;
  form.hidden = true;
  await showKeys();
}

async function revoke(id) {
  const r = await admin("DELETE", `v1/admin/keys/${encodeURIComponent(id)}`);
  showError($("keys-error"), r.ok ? null : r);
  await showKeys();
}

export function initKeys() {
  $("issue-form").addEventListener("submit", (e) => { e.preventDefault(); issue(e.target); });
  $("change-form").addEventListener("submit", (e) => { e.preventDefault(); change(e.target); });
  $("change-cancel").addEventListener("click", () => { $("change-form").hidden = true; });
  $("issued-hide").addEventListener("click", () => {
    $("issued-key").textContent = "";
    $("issued").hidden = true;
  });
}
