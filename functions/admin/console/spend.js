// Spend: the usage report (`GET /v1/admin/usage`, the records `GET /v1/usage` reads) for a range,
// by day, key and model; each key's budgets now; top callers. Sums are exact decimals (money.js).

import { admin, showError } from "./api.js";
import { el, stackedBars, table } from "./chart.js";
import * as money from "./money.js";

const $ = (id) => document.getElementById(id);

function isoDay(d) { return d.toISOString().slice(0, 10); }

function daysBetween(from, to) {
  const out = [];
  for (let d = new Date(`${from}T00:00:00Z`); isoDay(d) <= to && out.length < 367; d.setUTCDate(d.getUTCDate() + 1)) {
    out.push(isoDay(d));
  }
  return out;
}

/** Rows grouped by `field`: {name -> {cost (BigInt), requests, input, output, cache, byDay}}. */
function group(rows, field) {
  const groups = new Map();
  for (const r of rows) {
    const g = groups.get(r[field]) ?? { cost: 0n, requests: 0, input: 0, output: 0, cache: 0, byDay: new Map() };
    g.cost += money.parse(r.cost);
    g.requests += r.requests; g.input += r.input_tokens; g.output += r.output_tokens; g.cache += r.cache_tokens;
    const d = g.byDay.get(r.day) ?? { cost: 0n, tokens: 0 };
    d.cost += money.parse(r.cost);
    d.tokens += r.input_tokens + r.output_tokens + r.cache_tokens;
    g.byDay.set(r.day, d);
    groups.set(r[field], g);
  }
  return groups;
}

function series(groups, days, what, label) {
  return [...groups].map(([name, g]) => ({
    name: label(name),
    values: days.map((d) => { const v = g.byDay.get(d)?.[what]; return what === "cost" ? money.toNumber(v ?? 0n) : v ?? 0; }),
    labels: days.map((d) => { const v = g.byDay.get(d)?.[what]; return what === "cost" ? money.exact(v ?? 0n) : String(v ?? 0); }),
  }));
}

function totalItem(label, value, id, exact) {
  const div = el("div");
  div.append(el("dt", {}, label));
  const dd = el("dd", { id });
  dd.textContent = value;
  if (exact !== undefined) { dd.dataset.exact = exact; dd.title = `${exact} USD`; }
  div.append(dd);
  return div;
}

async function budgetsOf(keys) {
  const withBudget = keys.filter((k) => !k.revoked && (k.limits?.budget_day_usd != null || k.limits?.budget_month_usd != null));
  const rows = [];
  for (const k of withBudget) {
    const r = await admin("GET", `v1/admin/usage?key_id=${encodeURIComponent(k.id)}`);
    if (!r.ok) { rows.push([k.id, k.owner, `error ${r.status}`, "", ""]); continue; }
    for (const b of r.body.budgets ?? []) {
      if (b.limit == null) continue;
      const spent = money.parse(b.spent), limit = money.parse(b.limit);
      const pct = limit > 0n ? Number((spent * 10000n) / limit) / 100 : 0;
      const meter = el("meter", { min: 0, max: 100, low: 75, high: 90, optimum: 0, value: Math.min(pct, 100),
        "aria-label": `${k.owner} ${b.period} budget used` });
      const cell = el("span");
      cell.append(meter, document.createTextNode(` ${pct.toFixed(1)}%`));
      rows.push([`${k.owner} (${k.id})`, b.period, money.cents(spent), money.cents(limit), cell]);
    }
  }
  return rows;
}

export async function showSpend() {
  const from = $("spend-from").value, to = $("spend-to").value;
  const [usage, keysR] = await Promise.all([
    admin("GET", `v1/admin/usage?from=${from}&to=${to}`),
    admin("GET", "v1/admin/keys"),
  ]);
  const err = !usage.ok ? usage : !keysR.ok ? keysR : null;
  showError($("spend-error"), err);
  for (const id of ["spend-totals", "spend-charts", "spend-budgets", "spend-top"]) $(id).replaceChildren();
  if (err) return;
  const keys = keysR.body.data;
  const owner = new Map(keys.map((k) => [k.id, k.owner]));
  const keyLabel = (id) => `${owner.get(id) ?? "?"} (${id})`;
  const rows = usage.body.data;
  const days = daysBetween(usage.body.from, usage.body.to);
  const total = money.sum(rows.map((r) => r.cost));
  const tokens = (f) => rows.reduce((a, r) => a + r[f], 0);

  $("spend-totals").append(
    totalItem("Cost", money.cents(total), "total-cost", money.exact(total)),
    totalItem("Cost (exact USD)", money.exact(total), "total-cost-exact"),
    totalItem("Requests", String(tokens("requests")), "total-requests"),
    totalItem("Input tokens", String(tokens("input_tokens")), "total-input"),
    totalItem("Output tokens", String(tokens("output_tokens")), "total-output"),
  );

  const byKey = group(rows, "key_id"), byModel = group(rows, "model");
  const dayBudgets = keys.filter((k) => !k.revoked && k.limits?.budget_day_usd != null)
    .map((k) => ({ name: `${k.owner} daily budget`, value: Number(k.limits.budget_day_usd) }));
  $("spend-charts").append(
    stackedBars({ title: "Cost per day by key", unit: "USD", categories: days, series: series(byKey, days, "cost", keyLabel), lines: dayBudgets }),
    stackedBars({ title: "Cost per day by model", unit: "USD", categories: days, series: series(byModel, days, "cost", (m) => m) }),
    stackedBars({ title: "Tokens per day by model", unit: "tokens", categories: days, series: series(byModel, days, "tokens", (m) => m) }),
  );

  const budgetRows = await budgetsOf(keys);
  $("spend-budgets").append(budgetRows.length
    ? table("budgets-table", "Budgets now (spent includes calls in flight)", ["Key", "Period", "Spent", "Limit", "Used"], budgetRows)
    : el("p", {}, "No key has a budget."));

  const top = [...byKey].sort((a, b) => (b[1].cost > a[1].cost ? 1 : b[1].cost < a[1].cost ? -1 : 0));
  $("spend-top").append(table("top-table", `Top callers, ${usage.body.from} to ${usage.body.to}`,
    ["Key", "Requests", "Input tokens", "Output tokens", "Cost", "Cost (exact USD)"],
    top.map(([id, g]) => [keyLabel(id), String(g.requests), String(g.input), String(g.output), money.cents(g.cost), money.exact(g.cost)])));
}

export function initSpend() {
  const now = new Date();
  $("spend-to").value = isoDay(now);
  $("spend-from").value = isoDay(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)));
  $("spend-form").addEventListener("submit", (e) => { e.preventDefault(); showSpend(); });
}
