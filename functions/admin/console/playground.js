// Playground: the catalog with prices (`GET /v1/models`, invoke), an estimate across models
// (`POST /v1/estimate`, count), and a streamed answer from stream-url's OpenAI route
// (`/v1/chat/completions`, `stream_options.include_usage`: the last chunk carries usage, `cost`
// and `guardrail`). The API key is typed by the operator and kept in memory only.

import { gateway, gatewayStream, showError } from "./api.js";
import { el, table } from "./chart.js";

const $ = (id) => document.getElementById(id);
let apiKey = "";
let models = [];

function priceText(m) {
  const p = m.pricing;
  return p ? `$${p.input} in / $${p.output} out per 1M tokens` : "no known price";
}

async function loadModels() {
  apiKey = $("pg-key").value;
  $("pg-key").value = ""; // out of the DOM: only this module's variable holds it
  const r = await gateway("invoke", "GET", "/v1/models", apiKey);
  showError($("pg-error"), r.ok ? null : r);
  if (!r.ok) return;
  models = r.body.models.filter((m) => m.mode === "chat" && m.available !== false && m.capabilities?.streaming);
  const select = $("pg-model");
  select.replaceChildren(...models.map((m) => el("option", { value: m.id }, `${m.display_name} (${m.id}) - ${priceText(m)}`)));
  const checks = $("pg-compare");
  checks.replaceChildren(...models.map((m) => {
    const label = el("label", { class: "check" });
    label.append(el("input", { type: "checkbox", value: m.id, name: "compare" }), document.createTextNode(m.display_name));
    return label;
  }));
  $("pg-key").placeholder = "key loaded (in memory)";
}

function converseBody() {
  const body = {
    model: $("pg-model").value,
    messages: [{ role: "user", content: [{ text: $("pg-user").value }] }],
    inferenceConfig: { maxTokens: Number($("pg-max").value) || 200 },
  };
  if ($("pg-system").value.trim()) body.system = [{ text: $("pg-system").value }];
  return body;
}

async function estimate() {
  const body = converseBody();
  const others = [...document.querySelectorAll("#pg-compare input:checked")].map((i) => i.value);
  body.models = [body.model, ...others];
  const r = await gateway("count", "POST", "/v1/estimate", apiKey, body);
  showError($("pg-error"), r.ok ? null : r);
  if (!r.ok) return;
  const list = r.body.estimates ?? [r.body];
  $("pg-estimates").replaceChildren(table("estimates-table", `Estimates (cheapest that fits: ${r.body.cheapest ?? "none"})`,
    ["Model", "Input tokens", "Output tokens priced", "Fits", "Cost (USD)"],
    list.map((e) => [e.model, String(e.input_tokens), String(e.expected_output_tokens?.value ?? ""),
      e.fits ? "yes" : `no: ${e.reasons.join("; ")}`, e.cost?.total ?? "n/a"])));
}

function stat(label, value, id) {
  const div = el("div");
  div.append(el("dt", {}, label), el("dd", { id }, value));
  return div;
}

/** Reads an SSE body chunk by chunk; calls onData with each `data:` payload. */
async function readSse(resp, onData) {
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let at;
    while ((at = buf.indexOf("\n\n")) >= 0) {
      const frame = buf.slice(0, at);
      buf = buf.slice(at + 2);
      for (const line of frame.split("\n")) {
        if (line.startsWith("data: ")) onData(line.slice(6));
      }
    }
  }
}

async function send() {
  const answer = $("pg-answer"), stats = $("pg-stats");
  answer.textContent = "";
  stats.replaceChildren();
  answer.dataset.state = "streaming";
  const messages = [];
  if ($("pg-system").value.trim()) messages.push({ role: "system", content: $("pg-system").value });
  messages.push({ role: "user", content: $("pg-user").value });
  const started = performance.now();
  let firstToken = null, finish = null;
  const last = { usage: null, cost: null, guardrail: null };
  const resp = await gatewayStream("stream-url", "/v1/chat/completions", apiKey, {
    model: $("pg-model").value, messages, max_tokens: Number($("pg-max").value) || 200,
    stream: true, stream_options: { include_usage: true },
  });
  if (!resp.ok) {
    const text = await resp.text();
    let body = null;
    try { body = JSON.parse(text); } catch { /* shown as text */ }
    showError($("pg-error"), { status: resp.status, body, text });
    answer.dataset.state = "error";
    return;
  }
  showError($("pg-error"), null);
  await readSse(resp, (data) => {
    if (data === "[DONE]") return;
    const chunk = JSON.parse(data);
    if (chunk.error) { showError($("pg-error"), { status: "stream", body: chunk, text: data }); return; }
    const delta = chunk.choices?.[0]?.delta?.content;
    if (delta) {
      if (firstToken === null) firstToken = performance.now() - started;
      answer.append(document.createTextNode(delta));
    }
    finish = chunk.choices?.[0]?.finish_reason ?? finish;
    for (const k of Object.keys(last)) if (chunk[k]) last[k] = chunk[k];
  });
  const total = performance.now() - started;
  answer.dataset.state = "done";
  const u = last.usage ?? {};
  stats.append(
    stat("Time to first token", firstToken === null ? "n/a" : `${Math.round(firstToken)} ms`, "pg-ttft"),
    stat("Total time", `${Math.round(total)} ms`, "pg-total-time"),
    stat("Finish reason", finish ?? "n/a", "pg-finish"),
    stat("Input tokens", String(u.prompt_tokens ?? "n/a"), "pg-input"),
    stat("Output tokens", String(u.completion_tokens ?? "n/a"), "pg-output"),
    stat("Cost (USD)", last.cost?.total ?? "n/a", "pg-cost"),
    stat("Guardrail", last.guardrail ? JSON.stringify(last.guardrail) : "no intervention", "pg-guardrail"),
  );
}

export function initPlayground() {
  $("pg-key-form").addEventListener("submit", (e) => { e.preventDefault(); loadModels(); });
  $("pg-estimate").addEventListener("click", () => estimate());
  $("pg-form").addEventListener("submit", (e) => { e.preventDefault(); send(); });
}
