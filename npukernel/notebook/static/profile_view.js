// ProfileView (npukernel.notebook.profile_view): op table, timeline by unit, roofline.
// Plain DOM + SVG, no dependencies: the data arrives ready to draw from Python.

const UNITS = ["cube", "vector", "scalar", "dma"];

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function ms(s) {
  return (s * 1e3).toFixed(3);
}

function legend(colors) {
  return '<div class="npk-legend">' + UNITS.map((u) =>
    `<span><i style="background:${colors[u] || "#888"}"></i>${u}</span>`).join("") + "</div>";
}

function opsTable(model) {
  const ops = model.get("ops");
  if (!ops.length) return "<p>(no kernel launches)</p>";
  const colors = model.get("colors");
  const rows = ops.map((t) => {
    const ratio = t.npu_time_s > 0 ? (t.cpu_time_s / t.npu_time_s).toFixed(1) + "×" : "";
    return `<tr data-op="${esc(t.op)}"><td>${esc(t.op)}</td>` +
      `<td><i class="npk-dot" style="background:${colors[t.unit] || "#888"}"></i>${esc(t.unit)}</td>` +
      `<td>${t.calls.toLocaleString()}</td><td>${ms(t.cpu_time_s)}</td>` +
      `<td>${t.cpu_pct.toFixed(1)}%</td><td>${ms(t.npu_time_s)}</td><td>${ratio}</td>` +
      `<td>${(t.flops / 1e6).toFixed(2)}</td><td>${(t.bytes / 1e6).toFixed(2)}</td></tr>`;
  }).join("");
  return '<table class="npk-table"><thead><tr><th>op</th><th>unit</th><th>calls</th>' +
    "<th>CPU ms (measured)</th><th>CPU %</th><th>NPU ms (estimated)</th>" +
    "<th>CPU / NPU</th><th>MFLOP</th><th>MB</th></tr></thead>" +
    `<tbody>${rows}</tbody></table>`;
}

function timeline(model) {
  const rows = model.get("timeline");
  if (!rows.length) return "<p>(no kernel launches)</p>";
  const colors = model.get("colors");
  const W = 760, lane = 26, pad = 70;
  const cpuEnd = Math.max(...rows.map((r) => r[0] + r[1]));
  const npuEnd = Math.max(...rows.map((r) => r[2] + r[3]));
  const bar = (x0, w, y, r, scale) => {
    const x = pad + x0 * scale, width = Math.max(w * scale, 0.6);
    return `<rect x="${x.toFixed(2)}" y="${y}" width="${width.toFixed(2)}" height="${lane - 6}" ` +
      `fill="${colors[r[4]] || "#888"}"><title>${esc(r[5])} (${r[4]}): CPU ${ms(r[1])} ms, ` +
      `NPU ${ms(r[3])} ms</title></rect>`;
  };
  const cs = (W - pad - 10) / (cpuEnd || 1), ns = (W - pad - 10) / (npuEnd || 1);
  const cpuBars = rows.map((r) => bar(r[0], r[1], 4, r, cs)).join("");
  const npuBars = rows.map((r) => bar(r[2], r[3], 4 + lane + 18, r, ns)).join("");
  const H = 2 * lane + 40;
  return `<svg class="npk-timeline" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">` +
    `<text x="0" y="${lane - 8}">CPU</text><text x="0" y="${2 * lane + 10}">NPU (est)</text>` +
    cpuBars + npuBars +
    `<text x="${W - 10}" y="${lane + 12}" text-anchor="end">${ms(cpuEnd)} ms measured</text>` +
    `<text x="${W - 10}" y="${H - 2}" text-anchor="end">${ms(npuEnd)} ms estimated, ` +
    "back to back</text></svg>" + legend(colors);
}

function roofline(model) {
  const rf = model.get("roofline");
  if (!rf || !rf.roofs) return "<p>(no data)</p>";
  const colors = model.get("colors");
  const W = 560, H = 340, L = 60, B = 40, T = 10, R = 20;
  const pts = rf.points || [];
  const xs = pts.map((p) => p.intensity).concat([0.01, 1000]);
  const ys = pts.flatMap((p) => [p.npu_flops_s, p.cpu_flops_s]).filter((v) => v > 0)
    .concat([rf.roofs.cube, 1e8]);
  const lx0 = Math.floor(Math.log10(Math.min(...xs))), lx1 = Math.ceil(Math.log10(Math.max(...xs)));
  const ly0 = Math.floor(Math.log10(Math.min(...ys))), ly1 = Math.ceil(Math.log10(Math.max(...ys)) + 0.2);
  const X = (v) => L + (Math.log10(v) - lx0) / (lx1 - lx0) * (W - L - R);
  const Y = (v) => H - B - (Math.log10(v) - ly0) / (ly1 - ly0) * (H - B - T);
  let svg = `<svg class="npk-roofline" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`;
  for (let e = lx0; e <= lx1; e++) {
    svg += `<line class="grid" x1="${X(10 ** e)}" x2="${X(10 ** e)}" y1="${T}" y2="${H - B}"/>` +
      `<text x="${X(10 ** e)}" y="${H - B + 14}" text-anchor="middle">1e${e}</text>`;
  }
  for (let e = ly0; e <= ly1; e++) {
    svg += `<line class="grid" x1="${L}" x2="${W - R}" y1="${Y(10 ** e)}" y2="${Y(10 ** e)}"/>` +
      `<text x="${L - 4}" y="${Y(10 ** e) + 4}" text-anchor="end">1e${e}</text>`;
  }
  const roof = (peak, unit) => {
    const ridge = peak / rf.hbm_bandwidth, x0 = 10 ** lx0, x1 = 10 ** lx1;
    const path = ridge > x0
      ? `M${X(x0)},${Y(x0 * rf.hbm_bandwidth)} L${X(ridge)},${Y(peak)} L${X(x1)},${Y(peak)}`
      : `M${X(x0)},${Y(peak)} L${X(x1)},${Y(peak)}`;
    return `<path class="roof" d="${path}" stroke="${colors[unit]}"/>` +
      `<text x="${W - R}" y="${Y(peak) - 4}" text-anchor="end" fill="${colors[unit]}">` +
      `${unit} peak ${(peak / 1e12).toFixed(1)} TFLOP/s</text>`;
  };
  svg += roof(rf.roofs.cube, "cube") + roof(rf.roofs.vector, "vector");
  for (const p of pts) {
    const c = colors[p.unit] || "#888";
    if (p.npu_flops_s > 0) {
      svg += `<circle cx="${X(p.intensity)}" cy="${Y(p.npu_flops_s)}" r="4" fill="${c}">` +
        `<title>${esc(p.op)}: ${p.intensity.toFixed(2)} FLOP/B, NPU est ` +
        `${(p.npu_flops_s / 1e9).toFixed(1)} GFLOP/s</title></circle>`;
    }
    if (p.cpu_flops_s > 0) {
      svg += `<circle cx="${X(p.intensity)}" cy="${Y(p.cpu_flops_s)}" r="4" fill="none" ` +
        `stroke="${c}"><title>${esc(p.op)}: measured on the CPU ` +
        `${(p.cpu_flops_s / 1e9).toFixed(2)} GFLOP/s</title></circle>`;
    }
  }
  svg += `<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">` +
    "arithmetic intensity (FLOP / HBM byte)</text>" +
    `<text transform="translate(12 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">` +
    "FLOP/s</text></svg>";
  return `<p>Roofline of <b>${esc(rf.chip)}</b> (${esc(rf.dtype)}, HBM ` +
    `${(rf.hbm_bandwidth / 1e9).toFixed(0)} GB/s) for ${esc(rf.device)}: filled = estimated ` +
    "NPU, hollow = measured on this CPU.</p>" + svg + legend(colors);
}

const TABS = { ops: opsTable, timeline, roofline };

function render({ model, el }) {
  el.classList.add("npk-profile");
  const draw = () => {
    const tab = model.get("tab");
    const t = model.get("totals") || {};
    const buttons = Object.keys(TABS).map((k) =>
      `<button data-tab="${k}" class="${k === tab ? "active" : ""}">${k}</button>`).join("");
    el.innerHTML = `<div class="npk-head">${esc(model.get("headline"))}</div>` +
      `<div class="npk-tabs">${buttons}</div>` +
      `<div class="npk-body" data-launches="${t.launches || 0}">${(TABS[tab] || opsTable)(model)}</div>`;
    el.querySelectorAll("button[data-tab]").forEach((b) => b.addEventListener("click", () => {
      model.set("tab", b.dataset.tab);
      model.save_changes();
    }));
  };
  model.on("change", draw);
  draw();
  return () => model.off("change", draw);
}

export default { render };
