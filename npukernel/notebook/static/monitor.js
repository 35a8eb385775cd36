// TrainingMonitor (npukernel.notebook.monitor): live curves drawn as SVG, redrawn in
// place when the kernel sends new data (a few times a second at most).

const COLORS = ["#c7000b", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

function fmt(v, digits = 4) {
  if (v === null || v === undefined) return "–";
  if (Number.isInteger(v)) return v.toLocaleString();
  if (Math.abs(v) >= 1000) return v.toLocaleString(undefined, { maximumFractionDigits: 0 });
  return Number(v).toPrecision(digits);
}

function duration(s) {
  if (s === null || s === undefined) return "–";
  s = Math.round(s);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

function bytes(n) {
  if (n === null || n === undefined) return "∞";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

// lines: [{name, xs, ys, color, dots}]
function chart(title, lines, xlabel, W = 330, H = 200) {
  const L = 46, R = 8, T = 18, B = 28;
  const pts = lines.flatMap((l) => l.xs.map((x, i) => [x, l.ys[i]]))
    .filter((p) => p[1] !== null && Number.isFinite(p[1]));
  let svg = `<svg class="npk-chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `data-points="${pts.length}"><text x="${L}" y="12">${title}</text>`;
  if (!pts.length) return svg + `<text x="${W / 2}" y="${H / 2}" text-anchor="middle">waiting…</text></svg>`;
  let x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
  let y0 = Math.min(...pts.map((p) => p[1])), y1 = Math.max(...pts.map((p) => p[1]));
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= Math.abs(y0) * 0.1 + 1e-9; y1 += Math.abs(y1) * 0.1 + 1e-9; }
  const X = (x) => L + (x - x0) / (x1 - x0) * (W - L - R);
  const Y = (y) => H - B - (y - y0) / (y1 - y0) * (H - B - T);
  for (let k = 0; k <= 4; k++) {
    const y = y0 + (y1 - y0) * k / 4;
    svg += `<line class="grid" x1="${L}" x2="${W - R}" y1="${Y(y)}" y2="${Y(y)}"/>` +
      `<text x="${L - 4}" y="${Y(y) + 3}" text-anchor="end">${fmt(y, 3)}</text>`;
  }
  svg += `<text x="${L}" y="${H - 6}">${fmt(x0, 4)}</text>` +
    `<text x="${W - R}" y="${H - 6}" text-anchor="end">${fmt(x1, 4)}</text>` +
    `<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">${xlabel}</text>`;
  let lx = L + 4;
  for (const l of lines) {
    const seg = l.xs.map((x, i) => [x, l.ys[i]]).filter((p) => p[1] !== null);
    if (!seg.length) continue;
    const d = seg.map((p, i) => `${i ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join("");
    svg += `<path class="npk-line" data-name="${l.name}" d="${d}" stroke="${l.color}"/>`;
    if (l.dots) {
      svg += seg.map((p) => `<circle cx="${X(p[0])}" cy="${Y(p[1])}" r="3" fill="${l.color}"/>`).join("");
    }
    svg += `<text x="${lx}" y="${T + 10}" fill="${l.color}">${l.name}</text>`;
    lx += 8 + 6.5 * l.name.length;
  }
  return svg + "</svg>";
}

function render({ model, el }) {
  el.classList.add("npk-monitor");
  const draw = () => {
    const s = model.get("series") || {};
    const st = model.get("stats") || {};
    const loss = s.loss || [[], []];
    const lossLines = [{ name: "train", xs: loss[0], ys: loss[1], color: COLORS[0] }];
    if (s.eval_loss) {
      lossLines.push({ name: "validation", xs: s.eval_loss[0], ys: s.eval_loss[1], color: COLORS[1], dots: true });
    }
    const metricLines = Object.entries(s.metrics || {}).map(([name, v], i) =>
      ({ name, xs: v[0], ys: v[1], color: COLORS[(i + 1) % COLORS.length], dots: true }));
    const lr = s.lr || [[], []];
    const running = st.status === "running";
    const steps = st.total_steps ? `${st.step}/${st.total_steps}` : `${st.step ?? 0}`;
    const status = st.status === "interrupted"
      ? `interrupted — checkpoint ${st.checkpoint || "(none)"}` : (st.status || "ready");
    el.innerHTML =
      `<div class="npk-head">${model.get("title")} <span class="npk-status-word" data-status="${st.status}">${status}</span></div>` +
      '<div class="npk-stats">' +
      `<span>epoch <b>${st.epoch ?? 0}/${st.epochs ?? 0}</b></span>` +
      `<span>step <b>${steps}</b></span>` +
      `<span>loss <b>${fmt(st.loss)}</b></span>` +
      `<span>lr <b>${fmt(st.lr, 3)}</b></span>` +
      `<span><b>${fmt(st.throughput, 3)}</b> samples/s</span>` +
      `<span>elapsed <b>${duration(st.elapsed_s)}</b></span>` +
      `<span>ETA <b>${running ? duration(st.eta_s) : "–"}</b></span>` +
      `<span>${st.device || ""} memory <b>${bytes(st.memory_used)}</b> / ${bytes(st.memory_total)}</span>` +
      `<span>util <b>${Math.round((st.utilization || 0) * 100)}%</b></span>` +
      "</div>" +
      '<div class="npk-charts">' +
      chart("loss", lossLines, "step") +
      chart("validation metrics", metricLines, "epoch") +
      chart("learning rate", [{ name: "lr", xs: lr[0], ys: lr[1], color: COLORS[3] }], "step") +
      "</div>" +
      (running ? '<div class="npk-note">Stop: interrupt the kernel (■). Training saves a checkpoint and returns.</div>' : "");
  };
  model.on("change:series", draw);
  model.on("change:stats", draw);
  draw();
  return () => { model.off("change:series", draw); model.off("change:stats", draw); };
}

export default { render };
