// Stacked bar charts as inline SVG, each with its numbers as a table (the chart's text alternative).

const NS = "http://www.w3.org/2000/svg";
const COLORS = ["#0b5cad", "#e07b00", "#2e8540", "#b42318", "#6f42c1", "#008080", "#8a6d3b", "#d63384"];

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

let nextId = 0;

/**
 * A figure: stacked bars per category (x), one segment per series, optional horizontal lines
 * (budgets), a legend, and a table of the same numbers.
 * spec: {title, categories: [..], series: [{name, values: [number], labels: [text]}],
 *        lines: [{name, value}], unit: text}
 */
export function stackedBars(spec) {
  const id = `chart-${++nextId}`;
  const W = 640, H = 220, L = 56, B = 28, T = 10, R = 10;
  const n = spec.categories.length;
  const totals = spec.categories.map((_, i) => spec.series.reduce((a, s) => a + s.values[i], 0));
  const max = Math.max(1e-12, ...totals, ...(spec.lines ?? []).map((l) => l.value)) * 1.1;
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const bw = n ? Math.min(48, ((W - L - R) / n) * 0.7) : 0;
  const x = (i) => L + ((W - L - R) / Math.max(n, 1)) * (i + 0.5) - bw / 2;

  const figure = el("figure");
  figure.append(el("figcaption", { id: `${id}-title` }, spec.title));
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-labelledby": `${id}-title`, "aria-describedby": `${id}-table` });
  for (const frac of [0, 0.5, 1]) {
    const v = (max / 1.1) * frac;
    root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e5e7eb" }));
    root.append(svg("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end" }, fmtAxis(v)));
  }
  spec.categories.forEach((c, i) => {
    let acc = 0;
    spec.series.forEach((s, k) => {
      const v = s.values[i];
      if (v > 0) {
        const rect = svg("rect", { x: x(i), width: bw, y: y(acc + v), height: Math.max(0.5, y(acc) - y(acc + v)),
          fill: COLORS[k % COLORS.length] });
        rect.append(svg("title", {}, `${c} ${s.name}: ${s.labels[i]}`));
        root.append(rect);
      }
      acc += v;
    });
    root.append(svg("text", { x: x(i) + bw / 2, y: H - 10, "text-anchor": "middle" }, c.slice(5)));
  });
  for (const line of spec.lines ?? []) {
    root.append(svg("line", { x1: L, x2: W - R, y1: y(line.value), y2: y(line.value), stroke: "#b42318",
      "stroke-dasharray": "5 4" }));
    root.append(svg("text", { x: W - R, y: y(line.value) - 3, "text-anchor": "end", fill: "#b42318" }, line.name));
  }
  figure.append(root);

  const legend = el("ul", { class: "legend", "aria-hidden": "true" });
  spec.series.forEach((s, k) => {
    const li = el("li");
    const sw = svg("svg", { width: 12, height: 12, viewBox: "0 0 12 12" });
    sw.append(svg("rect", { width: 12, height: 12, fill: COLORS[k % COLORS.length] }));
    li.append(sw, document.createTextNode(" " + s.name));
    legend.append(li);
  });
  figure.append(legend);

  const details = el("details");
  details.append(el("summary", {}, "Numbers"));
  details.append(table(`${id}-table`, `${spec.title} (${spec.unit})`, ["Day", ...spec.series.map((s) => s.name)],
    spec.categories.map((c, i) => [c, ...spec.series.map((s) => s.labels[i])])));
  figure.append(details);
  return figure;
}

function fmtAxis(v) {
  if (v === 0) return "0";
  if (v >= 1000) return `${(v / 1000).toFixed(1)}k`;
  return v >= 1 ? v.toFixed(v >= 10 ? 0 : 2) : v.toPrecision(2);
}

/** A table with a caption; cells after the first are right-aligned numbers. Rows: arrays of
 * strings or Nodes. */
export function table(id, caption, headers, rows) {
  const t = el("table", id ? { id } : {});
  t.append(el("caption", {}, caption));
  const thead = el("thead");
  const hr = el("tr");
  headers.forEach((h, i) => hr.append(el("th", { scope: "col", class: i ? "num" : "" }, h)));
  thead.append(hr);
  const tbody = el("tbody");
  for (const row of rows) {
    const tr = el("tr");
    row.forEach((cell, i) => {
      const td = el(i === 0 ? "th" : "td", i === 0 ? { scope: "row" } : { class: "num" });
      if (cell instanceof Node) td.append(cell); else td.textContent = cell;
      tr.append(td);
    });
    tbody.append(tr);
  }
  t.append(thead, tbody);
  return t;
}

export { el };
