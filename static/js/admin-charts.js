// Loss and accuracy curves for one or more runs, drawn with the vendored Chart.js (global
// `Chart`, loaded by a classic <script> before this module). x is in epochs: an epoch's end is
// x = epoch; a batch inside epoch e is e - 1 + batch / steps, so batch points lead up to the
// epoch point they belong to (Keras reports a running mean over the epoch's batches).

const PALETTE = ["#4fd1c5", "#f6ad55", "#9f7aea", "#fc6f6f", "#63b3ed", "#48d597", "#f6e05e",
  "#ed64a6"];

/** One chart per metric; `series` feeds both from the same run data. */
export class RunCharts {
  constructor(lossCanvas, accCanvas) {
    const Chart = window.Chart;
    this.available = typeof Chart === "function";
    if (!this.available) return;
    Chart.defaults.color = "#8d98b3";
    Chart.defaults.borderColor = "rgba(141, 152, 179, 0.16)";
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    this.loss = new Chart(lossCanvas, chartConfig("Loss", false));
    this.acc = new Chart(accCanvas, chartConfig("Accuracy", true));
  }

  /** Redraw from `runs`: [{id, label, epochs: [...], batches: [...]}] (max 8). */
  show(runs) {
    if (!this.available) return;
    const lossSets = [];
    const accSets = [];
    runs.slice(0, PALETTE.length).forEach((run, i) => {
      const color = PALETTE[i % PALETTE.length];
      const label = runs.length > 1 ? `#${run.id} ${run.label}` : "";
      lossSets.push(dataset(`${label} train`.trim(), trainPoints(run, "loss"), color, false));
      lossSets.push(dataset(`${label} val`.trim(), valPoints(run, "val_loss"), color, true));
      accSets.push(dataset(`${label} train`.trim(), trainPoints(run, "accuracy"), color, false));
      accSets.push(dataset(`${label} val`.trim(), valPoints(run, "val_accuracy"), color, true));
    });
    const maxEpochs = Math.max(1, ...runs.map((r) => r.totalEpochs || r.epochs.length || 1));
    for (const [chart, sets] of [[this.loss, lossSets], [this.acc, accSets]]) {
      chart.data.datasets = sets;
      chart.options.scales.x.max = maxEpochs;
      chart.update("none");
    }
  }

  /** How many points the charts hold (the browser test reads it). */
  pointCount() {
    if (!this.available) return 0;
    return [this.loss, this.acc].reduce(
      (n, chart) => n + chart.data.datasets.reduce((m, d) => m + d.data.length, 0), 0);
  }
}

function trainPoints(run, key) {
  const points = [];
  for (const b of run.batches || []) {
    if (typeof b[key] === "number") points.push({ x: b.x, y: b[key] });
  }
  for (const e of run.epochs || []) {
    if (typeof e[key] === "number") points.push({ x: e.epoch, y: e[key] });
  }
  points.sort((a, b) => a.x - b.x);
  return points;
}

function valPoints(run, key) {
  return (run.epochs || [])
    .filter((e) => typeof e[key] === "number")
    .map((e) => ({ x: e.epoch, y: e[key] }));
}

function dataset(label, data, color, dashed) {
  return {
    label,
    data,
    borderColor: color,
    backgroundColor: color,
    borderDash: dashed ? [6, 4] : [],
    borderWidth: 2,
    pointRadius: (ctx) => (Number.isInteger(ctx.raw?.x) ? 3 : 0),
    pointHoverRadius: 5,
    tension: 0.25,
    spanGaps: true,
  };
}

function chartConfig(title, percent) {
  return {
    type: "line",
    data: { datasets: [] },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      parsing: false,
      normalized: true,
      interaction: { mode: "nearest", intersect: false },
      plugins: {
        title: { display: true, text: title, align: "start", font: { size: 14, weight: "600" } },
        legend: { position: "bottom", labels: { boxWidth: 18, boxHeight: 2 } },
        tooltip: {
          callbacks: {
            title: (items) => (items.length ? `epoch ${formatEpoch(items[0].parsed.x)}` : ""),
            label: (item) => `${item.dataset.label}: ${
              percent ? `${(item.parsed.y * 100).toFixed(2)} %` : item.parsed.y.toFixed(4)}`,
          },
        },
      },
      scales: {
        x: {
          type: "linear",
          min: 0,
          title: { display: true, text: "epoch" },
          ticks: { precision: 0 },
        },
        y: percent
          ? { min: 0, max: 1, ticks: { callback: (v) => `${Math.round(v * 100)}%` } }
          : { type: "linear", beginAtZero: true },
      },
    },
  };
}

function formatEpoch(x) {
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}
