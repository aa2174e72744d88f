// The admin dashboard: start/cancel runs, live progress over the /admin Socket.IO namespace,
// curves, run history with comparison, per-run confusion matrix, models (activate/delete).
// Settings and the CSRF token come from the page (a meta tag and a JSON script element), so
// the page has no inline script. Every piece of server text goes in with textContent.

import { RunCharts } from "./admin-charts.js";

const $ = (id) => document.getElementById(id);
const CONFIG = readJson("admin-config");
const CSRF = document.querySelector('meta[name="csrf-token"]')?.content || "";
const TERMINAL = new Set(["succeeded", "failed", "cancelled", "interrupted"]);
const LOG_LINES = 200;
const DATA_NAMES = { csv: "Sign MNIST", photos: "photos", both: "both" }; // the form's choices
// Runs recorded before these fields existed trained on Sign MNIST at 28 x 28.
const LEGACY = { train_on: "csv", input_size: 28 };

const state = {
  runs: [],            // summaries from GET /api/runs, newest first
  details: new Map(),  // run id -> {id, label, epochs, batches, totalEpochs, steps, status, ...}
  liveId: null,        // the run in progress (or the one just finished)
  selected: new Set(), // runs ticked for comparison
  shownId: null,       // the run whose confusion matrix is open
  epochStart: null,    // client time the current epoch's first batch arrived
  runStart: null,
  models: [],
  data: null,          // GET /api/data: the Sign MNIST status, with the photo folder's in .photos
};

const charts = new RunCharts($("loss-chart"), $("acc-chart"));
window.signliveAdmin = { charts, state }; // read by the browser test

function readJson(id) {
  try {
    return JSON.parse($(id)?.textContent || "{}");
  } catch {
    return {};
  }
}

// --- the API ---------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(message, status, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

async function api(method, path, body) {
  const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (method !== "GET") options.headers["X-CSRFToken"] = CSRF;
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new ApiError(`the server cannot be reached (${err.message})`, 0);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.status === 401) {
    window.location.assign("/admin/login");
    throw new ApiError("logged out", 401);
  }
  if (!response.ok) {
    throw new ApiError(data?.error || `${response.status} ${response.statusText}`,
      response.status, data?.field);
  }
  return data;
}

// --- small helpers ---------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

const pct = (v) => (typeof v === "number" ? `${(v * 100).toFixed(2)} %` : "–");
const num = (v, digits = 4) => (typeof v === "number" ? v.toFixed(digits) : "–");

function duration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

function when(value) {
  if (value === null || value === undefined || value === "") return "–";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function bytes(n) {
  if (typeof n !== "number") return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function flash(message, kind = "info") {
  const box = $("flash");
  box.textContent = message;
  box.className = `flash flash-${kind}`;
  box.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 12000 : 5000);
}

function badge(status) {
  return el("span", { class: `pill pill-${status}`, text: status });
}

// --- the data set and the form ---------------------------------------------------------------

async function loadData() {
  const box = $("data-status");
  clearTimeout(loadData.timer);
  try {
    const data = await api("GET", "/api/data");
    state.data = data;
    box.className = `data-status ${data.ok ? "data-ok" : "data-missing"}`;
    box.replaceChildren(
      el("strong", { text: data.ok ? "Data set ready" : "Data set missing" }),
      el("span", { text: data.message || "" }),
    );
    if (!data.ok) {
      box.append(el("span", {
        class: "small",
        text: "Put sign_mnist_train.csv(.gz) and sign_mnist_test.csv(.gz) in one folder and "
          + "start the server with SIGNLIVE_DATA=that folder.",
      }));
    }
    renderPhotoStatus();
    // The hand-box count comes from a background pass on the server: ask again until done.
    if (data.photos?.boxes_pending) loadData.timer = setTimeout(loadData, 3000);
  } catch (err) {
    box.className = "data-status data-missing";
    box.textContent = `Data set status unavailable: ${err.message}`;
  }
  updateStartButton();
}

function photosInvolved() {
  return $("f-train-on").value !== "csv";
}

function renderPhotoStatus() {
  const box = $("photo-status");
  const photos = state.data?.photos;
  if (!photos) {
    box.className = "data-status data-unknown";
    box.textContent = "Photo folder status unavailable.";
    return;
  }
  let kind = "data-ok";
  if (!photos.ok) kind = photosInvolved() ? "data-missing" : "data-unknown";
  else if (!photos.boxes_ready) kind = "data-warn";
  box.className = `data-status ${kind}`;
  box.replaceChildren(
    el("strong", { text: photos.ok ? "Photo folder" : "Photo folder unavailable" }),
    el("span", { text: photos.message || "" }),
  );
  if (photos.ok) {
    box.append(el("span", { class: "boxes-status", text: photos.boxes_message || "" }));
  } else {
    box.append(el("span", {
      class: "small",
      text: "Only needed to train on photos: start the server with SIGNLIVE_PHOTOS=a folder of "
        + "<LETTER>/<source>_<n>.jpg photos.",
    }));
  }
}

function updateStartButton() {
  const data = state.data;
  if (!data) return; // unknown: let the server decide
  const on = $("f-train-on").value;
  const ok = (on === "photos" || data.ok) && (on === "csv" || data.photos?.ok);
  $("start-btn").disabled = !ok;
}

function syncPhotoFields() {
  const involved = photosInvolved();
  for (const node of document.querySelectorAll("#run-form .photo-field")) {
    node.hidden = !involved;
    for (const input of node.querySelectorAll("select, input")) input.disabled = !involved;
  }
  // The hand-shape branch reads the landmarks found with the hand box: hand crop only.
  const shape = $("f-hand-shape");
  if ($("f-crop").value !== "hand") shape.checked = false;
  shape.disabled = !involved || $("f-crop").value !== "hand";
  renderPhotoStatus();
  updateStartButton();
}

function fillForm(values) {
  $("f-arch").value = values.arch;
  $("f-epochs").value = values.epochs;
  $("f-batch").value = values.batch_size;
  $("f-lr").value = values.learning_rate;
  $("f-patience").value = values.early_stopping;
  $("f-augment").checked = values.augment;
  $("f-negatives").value = values.negatives;
  $("f-train-on").value = values.train_on;
  $("f-crop").value = values.crop;
  $("f-split").value = values.split;
  $("f-input-size").value = values.input_size;
  $("f-hand-shape").checked = Boolean(values.hand_shape);
  syncPhotoFields();
}

function initForm() {
  const defaults = CONFIG.defaults || {};
  const recipes = CONFIG.recipes || [];
  $("f-arch").replaceChildren(...(CONFIG.archs || ["cnn", "resnet", "resnet50"]).map(
    (name) => el("option", { value: name, text: name })));
  const choices = [
    ["f-train-on", CONFIG.train_on || ["csv", "photos", "both"], DATA_NAMES],
    ["f-crop", CONFIG.crops || ["guide", "hand"], {}],
    ["f-split", CONFIG.splits || [], {}],
  ];
  for (const [id, values, names] of choices) {
    $(id).replaceChildren(...values.map((value) => el("option", { value, text: names[value] || value })));
  }
  // A recipe fills the whole form; a field changed by hand makes it "custom".
  $("f-recipe").replaceChildren(
    ...recipes.map((recipe) => el("option", { value: recipe.key, text: recipe.label })),
    el("option", { value: "custom", text: "Custom (as set below)" }));
  $("f-recipe").value = defaults.key || "custom";
  $("f-recipe").addEventListener("change", () => {
    const recipe = recipes.find((r) => r.key === $("f-recipe").value);
    if (recipe) fillForm(recipe);
  });
  $("run-form").addEventListener("input", (event) => {
    if (event.target.id !== "f-recipe" && event.target.id !== "f-name" && event.target.id !== "f-limit") {
      $("f-recipe").value = "custom";
    }
  });
  $("f-train-on").addEventListener("change", syncPhotoFields);
  $("f-crop").addEventListener("change", syncPhotoFields);
  fillForm(defaults);
  if (CONFIG.allow_limit) {
    $("limit-field").hidden = false;
    $("f-limit").value = CONFIG.train_limit || 0;
  }
  $("run-form").addEventListener("submit", startRun);
  $("fz-epochs").value = CONFIG.fuse_epochs || 40;
  $("fuse-form").addEventListener("submit", (event) => startSideRun(event, "fuse"));
  $("mo-epochs").value = CONFIG.motion_epochs || 30;
  $("motion-form").addEventListener("submit", (event) => startSideRun(event, "motion"));
  $("cancel-btn").addEventListener("click", cancelRun);
}

function numberField(id) {
  const raw = $(id).value.trim();
  return raw === "" ? NaN : Number(raw);
}

async function startRun(event) {
  event.preventDefault();
  const form = $("run-form");
  for (const node of form.querySelectorAll(".invalid")) node.classList.remove("invalid");
  $("form-error").hidden = true;
  const body = {
    arch: $("f-arch").value,
    epochs: numberField("f-epochs"),
    batch_size: numberField("f-batch"),
    learning_rate: numberField("f-lr"),
    early_stopping: numberField("f-patience"),
    augment: $("f-augment").checked,
    negatives: numberField("f-negatives"),
    train_on: $("f-train-on").value,
    input_size: numberField("f-input-size"),
  };
  if (photosInvolved()) {
    body.crop = $("f-crop").value;
    body.split = $("f-split").value;
    if ($("f-hand-shape").checked) body.hand_shape = true;
  }
  const name = $("f-name").value.trim();
  if (name) body.name = name;
  if (CONFIG.allow_limit) body.limit = numberField("f-limit");
  for (const [key, value] of Object.entries(body)) {
    if (typeof value === "number" && !Number.isFinite(value)) {
      showFormError(`${key.replace("_", " ")}: enter a number`, key);
      return;
    }
  }
  $("start-btn").disabled = true;
  try {
    const result = await api("POST", "/api/runs", body);
    $("f-name").value = "";
    beginLiveRun(result.id, result.name, body);
    flash(`Run #${result.id} started.`, "ok");
    await loadRuns();
  } catch (err) {
    showFormError(err.message, err.field);
  } finally {
    $("start-btn").disabled = false;
    updateStartButton();
  }
}

/** Start a fuse or motion run from its small form (`kind`: "fuse" or "motion"). */
async function startSideRun(event, kind) {
  event.preventDefault();
  const prefix = kind === "fuse" ? "fz" : "mo";
  $(`${kind}-error`).hidden = true;
  const body = { kind, epochs: numberField(`${prefix}-epochs`) };
  if (kind === "fuse") body.base = $("fz-base").value;
  const name = $(`${prefix}-name`).value.trim();
  if (name) body.name = name;
  if (kind === "fuse" && !body.base) {
    showFormError("choose a hand-crop model", "base", kind);
    return;
  }
  if (!Number.isFinite(body.epochs)) {
    showFormError("epochs: enter a number", "epochs", kind);
    return;
  }
  $(`${kind}-btn`).disabled = true;
  try {
    const result = await api("POST", "/api/runs", body);
    $(`${prefix}-name`).value = "";
    beginLiveRun(result.id, result.name, body);
    flash(`Run #${result.id} started: ${trainedOn(body)}.`, "ok");
    await loadRuns();
  } catch (err) {
    showFormError(err.message, err.field, kind);
  } finally {
    $(`${kind}-btn`).disabled = kind === "fuse" && !$("fz-base").options.length;
  }
}

function showFormError(message, field, form = "run") {
  const box = $(form === "run" ? "form-error" : `${form}-error`);
  box.textContent = message;
  box.hidden = false;
  const input = field && $(`${form}-form`).querySelector(`[name="${CSS.escape(field)}"]`);
  if (input) {
    input.classList.add("invalid");
    input.focus();
  }
}

async function cancelRun() {
  if (state.liveId === null) return;
  $("cancel-btn").disabled = true;
  try {
    await api("POST", `/api/runs/${state.liveId}/cancel`);
    setBadge("cancelling");
  } catch (err) {
    flash(err.message, "error");
    $("cancel-btn").disabled = false;
  }
}

// --- the live run ----------------------------------------------------------------------------

function runEntry(id) {
  if (!state.details.has(id)) {
    state.details.set(id, { id, label: `run ${id}`, epochs: [], batches: [], totalEpochs: 0 });
  }
  return state.details.get(id);
}

function beginLiveRun(id, name, params) {
  state.liveId = id;
  state.epochStart = null;
  state.runStart = Date.now();
  const run = runEntry(id);
  run.label = name || run.label;
  run.totalEpochs = params?.epochs || run.totalEpochs;
  if (params) run.params = params;
  run.status = "running";
  $("log").textContent = "";
  $("run-title").textContent = `#${id} ${name || ""} · ${describeParams(params)}`;
  $("run-title").classList.remove("muted");
  setBars(0, 0, "starting…", "starting…");
  for (const id of ["epoch-eta", "eta", "m-loss", "m-acc", "m-val-loss", "m-val-acc"]) {
    $(id).textContent = "–";
  }
  setBadge("running");
  $("cancel-btn").disabled = false;
  renderCharts();
}

/** What a run trained on: "Sign MNIST", "photos (hand crop, split photos-v1)", ... */
function trainedOn(p) {
  if (p?.kind === "fuse") return `hand shape on ${p.base}`;
  if (p?.kind === "motion") return "landmark tracks (J, Z)";
  const on = p?.train_on || LEGACY.train_on;
  if (on === "csv") return "Sign MNIST";
  const photos = `photos (${p.crop || "hand"} crop${p.split ? `, split ${p.split}` : ""})`;
  const shape = p.hand_shape ? " + hand shape" : "";
  return (on === "photos" ? photos : `Sign MNIST + ${photos}`) + shape;
}

/** The same, short, for table cells and chart legends: "Sign MNIST · 28 px" ("" unknown). */
function dataShort(p) {
  if (!p) return "";
  if (p.kind === "fuse") return `hand shape on ${p.base}`;
  if (p.kind === "motion") return "landmark tracks (J, Z)";
  const on = p.train_on || LEGACY.train_on;
  const what = on === "csv" ? "Sign MNIST" : `${on === "both" ? "both" : "photos"}, ${p.crop || "hand"} crop`;
  return `${what} · ${p.input_size ?? LEGACY.input_size} px`;
}

function describeParams(p) {
  if (!p) return "";
  if (p.kind === "fuse" || p.kind === "motion") return `${p.arch}, ${trainedOn(p)}, ${p.epochs} epochs`;
  const parts = [p.arch, trainedOn(p), `input ${p.input_size ?? LEGACY.input_size} px`,
    `${p.epochs} epochs`, `batch ${p.batch_size}`,
    `lr ${p.learning_rate}`, p.augment ? "augmented" : "no augmentation"];
  if (p.negatives) parts.push(`${Math.round(p.negatives * 100)}% hand-free`);
  if (p.limit) parts.push(`first ${p.limit} rows`);
  return parts.filter(Boolean).join(" · ");
}

function setBadge(status) {
  const node = $("run-badge");
  node.className = `pill pill-${status}`;
  node.textContent = status;
}

function setBars(epochFraction, runFraction, epochText, runText) {
  const clamp = (v) => Math.max(0, Math.min(1, v || 0));
  $("epoch-bar").style.width = `${clamp(epochFraction) * 100}%`;
  $("run-bar").style.width = `${clamp(runFraction) * 100}%`;
  $("epoch-bar-wrap").setAttribute("aria-valuenow", String(Math.round(clamp(epochFraction) * 100)));
  $("run-bar-wrap").setAttribute("aria-valuenow", String(Math.round(clamp(runFraction) * 100)));
  $("epoch-text").textContent = epochText;
  $("run-text").textContent = runText;
}

function onProgress(event) {
  const run = runEntry(event.run_id);
  if (state.liveId !== event.run_id) {
    beginLiveRun(event.run_id, event.name, null);
  }
  if (event.type === "start") {
    run.totalEpochs = event.epochs;
    run.steps = event.steps_per_epoch;
    run.label = event.name || run.label;
    state.epochStart = Date.now();
    setBars(0, 0, `0 / ${event.steps_per_epoch} steps`, `0 / ${event.epochs} epochs`);
  } else if (event.type === "batch") {
    run.steps = event.steps;
    const x = event.epoch - 1 + event.batch / event.steps;
    run.batches.push({ x, loss: event.loss, accuracy: event.accuracy });
    if (run.batches.length > 4000) run.batches.splice(0, run.batches.length - 4000);
    if (state.epochStart === null || event.batch <= 1) state.epochStart = Date.now();
    const total = run.totalEpochs || event.epoch;
    setBars(event.batch / event.steps, (event.epoch - 1 + event.batch / event.steps) / total,
      `epoch ${event.epoch}: ${event.batch} / ${event.steps} steps`,
      `${event.epoch - 1} / ${total} epochs done`);
    const elapsed = (Date.now() - state.epochStart) / 1000;
    const perBatch = elapsed / Math.max(1, event.batch);
    $("epoch-eta").textContent = duration(perBatch * (event.steps - event.batch));
    $("eta").textContent = duration(event.eta_s);
    $("m-loss").textContent = num(event.loss);
    $("m-acc").textContent = pct(event.accuracy);
  } else if (event.type === "epoch") {
    run.totalEpochs = event.epochs;
    run.epochs = run.epochs.filter((e) => e.epoch !== event.epoch);
    run.epochs.push({ epoch: event.epoch, loss: event.loss, accuracy: event.accuracy,
      val_loss: event.val_loss, val_accuracy: event.val_accuracy, seconds: event.seconds });
    state.epochStart = Date.now();
    setBars(1, event.epoch / event.epochs, `epoch ${event.epoch} done`,
      `${event.epoch} / ${event.epochs} epochs done`);
    $("eta").textContent = duration(event.eta_s);
    $("m-loss").textContent = num(event.loss);
    $("m-acc").textContent = pct(event.accuracy);
    $("m-val-loss").textContent = num(event.val_loss);
    $("m-val-acc").textContent = pct(event.val_accuracy);
  } else if (event.type === "end") {
    setBars(1, 1, "done", `test accuracy ${pct(event.test_accuracy)}`);
    $("eta").textContent = "0 s";
    $("epoch-eta").textContent = "0 s";
  }
  renderCharts();
  updateRunRow(event.run_id);
}

function onStatus(event) {
  const run = runEntry(event.run_id);
  run.status = event.status;
  if (event.status === "running" && state.liveId !== event.run_id) {
    beginLiveRun(event.run_id, event.name, null);
  }
  if (event.run_id === state.liveId) setBadge(event.status);
  if (TERMINAL.has(event.status)) {
    if (event.run_id === state.liveId) {
      $("cancel-btn").disabled = true;
      const text = event.status === "succeeded"
        ? `test accuracy ${pct(event.test_accuracy)}`
        : event.status;
      $("run-text").textContent = text;
      if (event.status !== "succeeded") $("eta").textContent = "–";
    }
    const kind = event.status === "succeeded" ? "ok" : (event.status === "cancelled" ? "info" : "error");
    const detail = event.error ? `: ${event.error}` : "";
    flash(`Run #${event.run_id} ${event.status}${detail}`, kind);
    refreshRun(event.run_id);
    loadRuns();
    if (event.status === "succeeded") loadModels();
  } else {
    loadRuns();
  }
}

function onLog(event) {
  if (state.liveId !== null && event.run_id !== state.liveId) return;
  appendLog(event.t, event.line);
}

function appendLog(t, line) {
  const box = $("log");
  const stamp = new Date((t || Date.now() / 1000) * 1000).toLocaleTimeString();
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
  box.append(`${stamp}  ${line}\n`);
  while (box.childNodes.length > LOG_LINES) box.firstChild.remove();
  if (atBottom) box.scrollTop = box.scrollHeight;
}

// --- runs ------------------------------------------------------------------------------------

async function loadRuns() {
  try {
    const data = await api("GET", "/api/runs?limit=200");
    state.runs = data.runs;
    for (const summary of data.runs) {
      const run = runEntry(summary.id);
      run.label = summary.name;
      run.status = summary.status;
      run.summary = summary;
      run.params = summary.params || run.params;
      run.totalEpochs = run.totalEpochs || summary.params?.epochs || 0;
    }
    renderRuns();
    return data;
  } catch (err) {
    flash(`Run history unavailable: ${err.message}`, "error");
    return null;
  }
}

async function refreshRun(id) {
  try {
    const full = await api("GET", `/api/runs/${id}`);
    const run = runEntry(id);
    run.label = full.name;
    run.status = full.status;
    run.full = full;
    run.params = full.params || run.params;
    run.epochs = full.epochs || [];
    run.totalEpochs = full.params?.epochs || run.totalEpochs;
    if (TERMINAL.has(full.status)) run.batches = [];
    if (state.shownId === id) renderDetails(full);
    renderCharts();
    return full;
  } catch (err) {
    flash(err.message, "error");
    return null;
  }
}

function renderRuns() {
  const body = $("runs-table").tBodies[0];
  if (!state.runs.length) {
    body.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: 12, text: "No runs yet." })));
    return;
  }
  body.replaceChildren(...state.runs.map(runRow));
  $("compare-clear").disabled = state.selected.size === 0;
}

function runRow(summary) {
  const id = summary.id;
  const params = summary.params || {};
  const check = el("input", {
    type: "checkbox",
    "aria-label": `compare run ${id}`,
    checked: state.selected.has(id),
    onchange: (e) => toggleCompare(id, e.target.checked),
  });
  const done = summary.epochs_done ?? 0;
  const row = el("tr", { "data-run": id, class: id === state.shownId ? "selected" : "" },
    el("td", {}, check),
    el("td", { class: "mono", text: id }),
    el("td", { class: "mono", text: summary.name }),
    el("td", { text: params.arch || "–" }),
    el("td", { class: "small data-cell", title: trainedOn(params), text: dataShort(params) }),
    el("td", { class: "epochs-cell", text: `${done} / ${params.epochs ?? "?"}` }),
    el("td", { title: summary.error || "" }, badge(summary.status)),
    el("td", { class: "num", text: pct(summary.test_accuracy) }),
    el("td", { class: "num", text: duration(summary.duration) }),
    el("td", { class: "small", text: summary.device || "–" }),
    el("td", { class: "small", text: when(summary.started || summary.created) }),
    el("td", {}, el("button", {
      type: "button", class: "btn btn-ghost btn-small", text: "Details",
      onclick: () => showDetails(id),
    })),
  );
  return row;
}

function updateRunRow(id) {
  const run = state.details.get(id);
  const row = $("runs-table").querySelector(`tr[data-run="${id}"] .epochs-cell`);
  if (run && row) row.textContent = `${run.epochs.length} / ${run.totalEpochs || "?"}`;
}

async function toggleCompare(id, on) {
  if (on) state.selected.add(id);
  else state.selected.delete(id);
  $("compare-clear").disabled = state.selected.size === 0;
  if (on && !runEntry(id).full && id !== state.liveId) await refreshRun(id);
  renderCharts();
}

function renderCharts() {
  let ids = [...state.selected];
  if (ids.length === 0) {
    const fallback = state.liveId ?? state.runs[0]?.id;
    ids = fallback === undefined || fallback === null ? [] : [fallback];
  }
  ids.sort((a, b) => a - b);
  const runs = ids.map((id) => runEntry(id));
  // Compared runs are named with what they trained on (the legend shows the label).
  const named = (run) => [run.label, dataShort(run.params) && `(${dataShort(run.params)})`]
    .filter(Boolean).join(" ");
  charts.show(runs.length > 1 ? runs.map((run) => ({ ...run, label: named(run) })) : runs);
  const subtitle = ids.length > 1
    ? `comparing runs ${runs.map((run) => `#${run.id} ${named(run)}`).join(", ")}`
    : (ids.length ? `run #${ids[0]} ${named(runs[0])}` : "no runs yet");
  $("chart-subtitle").textContent = subtitle;
}

$("compare-clear").addEventListener("click", () => {
  state.selected.clear();
  renderRuns();
  renderCharts();
});

// --- run details: confusion matrix and per-class table --------------------------------------

async function showDetails(id) {
  state.shownId = id;
  renderRuns();
  const full = await refreshRun(id);
  if (full) {
    renderDetails(full);
    $("details-card").hidden = false;
    $("details-card").scrollIntoView({ behavior: "smooth", block: "start" });
  }
}

$("details-close").addEventListener("click", () => {
  state.shownId = null;
  $("details-card").hidden = true;
  renderRuns();
});

function renderDetails(run) {
  $("details-title").textContent = `#${run.id} ${run.name}`;
  const p = run.params || {};
  const summary = $("details-summary");
  summary.replaceChildren(
    badge(run.status),
    el("span", { text: describeParams(p) }),
    el("span", { text: `test accuracy ${pct(run.test_accuracy)}` }),
    el("span", { text: `duration ${duration(run.duration)}` }),
    el("span", { text: run.device || "" }),
  );
  if (run.error) summary.append(el("p", { class: "alert alert-error", text: run.error }));
  renderConfusion(run.confusion, run.per_class);
  renderPerClass(run.per_class);
}

function renderConfusion(matrix, perClass) {
  const wrap = $("confusion");
  if (!Array.isArray(matrix) || !matrix.length) {
    wrap.replaceChildren(el("p", { class: "muted", text: "No confusion matrix: the run did not finish its test evaluation." }));
    return;
  }
  const letters = perClass ? Object.keys(perClass) : matrix.map((_, i) => String(i));
  const table = el("table", { class: "confusion" });
  const head = el("tr", {}, el("th", { class: "cm-corner", text: "" }));
  for (const letter of letters) head.append(el("th", { scope: "col", text: letter }));
  table.append(el("thead", {}, head));
  const body = el("tbody");
  matrix.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    const tr = el("tr", {}, el("th", { scope: "row", text: letters[i] }));
    row.forEach((count, j) => {
      const share = count / total;
      const cell = el("td", { text: count ? String(count) : "", title: `true ${letters[i]}, predicted ${letters[j]}: ${count} (${(share * 100).toFixed(1)} %)` });
      if (count) {
        const alpha = Math.max(0.12, Math.sqrt(share));
        cell.style.backgroundColor = i === j
          ? `rgba(72, 213, 151, ${alpha.toFixed(3)})`
          : `rgba(252, 111, 111, ${Math.min(1, alpha + 0.15).toFixed(3)})`;
        if (alpha > 0.55) cell.classList.add("strong");
      }
      if (i === j) cell.classList.add("diag");
      tr.append(cell);
    });
    body.append(tr);
  });
  table.append(body);
  wrap.replaceChildren(table);
}

function renderPerClass(perClass) {
  const wrap = $("per-class");
  if (!perClass || typeof perClass !== "object") {
    wrap.replaceChildren(el("p", { class: "muted", text: "No per-class metrics." }));
    return;
  }
  const table = el("table", { class: "table table-compact" },
    el("thead", {}, el("tr", {},
      el("th", { text: "Letter" }), el("th", { class: "num", text: "Precision" }),
      el("th", { class: "num", text: "Recall" }), el("th", { class: "num", text: "F1" }),
      el("th", { class: "num", text: "Support" }))));
  const body = el("tbody");
  for (const [letter, m] of Object.entries(perClass)) {
    const weak = typeof m.f1 === "number" && m.f1 < 0.9;
    body.append(el("tr", { class: weak ? "weak" : "" },
      el("td", { class: "mono", text: letter }),
      el("td", { class: "num", text: num(m.precision, 3) }),
      el("td", { class: "num", text: num(m.recall, 3) }),
      el("td", { class: "num", text: num(m.f1, 3) }),
      el("td", { class: "num", text: m.support ?? "–" })));
  }
  table.append(body);
  wrap.replaceChildren(table);
}

// --- models ----------------------------------------------------------------------------------

async function loadModels() {
  try {
    const data = await api("GET", "/api/models");
    state.models = data.models;
    renderModels(data);
  } catch (err) {
    flash(`Models unavailable: ${err.message}`, "error");
  }
}

function renderFuseBases(models) {
  const select = $("fz-base");
  const chosen = select.value;
  const bases = models.filter((m) => m.crop === "hand" && !m.error);
  select.replaceChildren(...bases.map((m) => el("option", {
    value: m.name, text: m.handshape ? `${m.name} (retrain its branch)` : m.name,
    selected: m.name === chosen,
  })));
  $("fuse-btn").disabled = !bases.length;
}

function renderModels(data) {
  renderFuseBases(data.models);
  const body = $("models-table").tBodies[0];
  if (!data.models.length) {
    body.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: 8, text: "No models in the models folder." })));
    return;
  }
  body.replaceChildren(...data.models.map((m) => {
    const nameCell = el("td", { class: "mono" }, m.name);
    if (m.active) nameCell.append(" ", el("span", { class: "pill pill-active", text: "active" }));
    if (m.error) nameCell.append(" ", el("span", { class: "pill pill-failed", title: m.error, text: "unreadable" }));
    const actions = el("td", { class: "row-actions" },
      el("button", {
        type: "button", class: "btn btn-small btn-primary", text: "Activate",
        disabled: m.active || Boolean(m.error) || m.kind === "motion",
        title: m.kind === "motion" ? "the motion reader (J, Z) serves beside the letter model (SIGNLIVE_MOTION_MODEL)" : "",
        onclick: () => activate(m.name),
      }),
      el("button", {
        type: "button", class: "btn btn-small btn-danger-ghost", text: "Delete",
        disabled: m.active || m.protected,
        title: m.protected ? "the shipped model cannot be deleted" : (m.active ? "activate another model first" : ""),
        onclick: () => removeModel(m.name),
      }));
    return el("tr", { class: m.active ? "active-row" : "", "data-model": m.name },
      nameCell,
      el("td", { text: m.arch || "–" }),
      el("td", { class: "num", title: heldOutTitle(m), text: heldOutText(m) }),
      el("td", { class: "num", text: pct(m.sign_mnist) }),
      el("td", { class: "num", text: typeof m.params === "number" ? m.params.toLocaleString() : "–" }),
      el("td", { class: "num", text: bytes(m.size) }),
      el("td", { class: "small", text: when(m.trained_at || m.created) }),
      actions);
  }));
}

/** The held-out column: a letter model's accuracy; a motion reader's J and Z found. */
function heldOutText(m) {
  if (m.kind !== "motion") return pct(m.held_out?.accuracy);
  const people = Object.values(m.held_out_people || {});
  const sum = (key) => people.reduce((acc, row) => [acc[0] + row[key][0], acc[1] + row[key][1]], [0, 0]);
  if (!people.length) return "–";
  const [j, z] = [sum("J"), sum("Z")];
  return `J ${j[0]}/${j[1]} · Z ${z[0]}/${z[1]}`;
}

function heldOutTitle(m) {
  if (m.kind === "motion") return "the held-out people of split motion-v1 (J and Z found)";
  if (!m.held_out) return "not scored: signlive evaluate --record scores it";
  return `${m.held_out.n} photos of split ${m.held_out.split}; raw webcam ${pct(m.held_out.raw_webcam)}`;
}

// Activating a model that reads the held-out photos worse than the one serving asks first,
// with both figures (a model never scored on them asks too: its figure is unknown).
function activationWarning(name) {
  const chosen = state.models.find((m) => m.name === name);
  const active = state.models.find((m) => m.active);
  const activeFigure = active?.held_out?.accuracy;
  if (!chosen || !active || typeof activeFigure !== "number") return null;
  const figure = chosen.held_out?.accuracy;
  if (typeof figure === "number" && figure >= activeFigure) return null;
  const chosenText = typeof figure === "number" ? pct(figure) : "an unknown share (never scored)";
  return `${name} reads ${chosenText} of the held-out photos; ${active.name}, serving now, ` +
    `reads ${pct(activeFigure)}. Serve ${name} anyway?`;
}

/** An in-page yes/no question (the <dialog> under the models table): resolves to true on yes. */
function confirmDialog(text) {
  const dialog = $("confirm-dialog");
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

async function activate(name) {
  const warning = activationWarning(name);
  if (warning && !(await confirmDialog(warning))) return;
  flash(`Loading ${name}…`);
  try {
    const result = await api("POST", `/api/models/${encodeURIComponent(name)}/activate`);
    flash(`${result.active} now serves the live pages (was ${result.previous}).`, "ok");
  } catch (err) {
    flash(err.message, "error");
  }
  loadModels();
}

async function removeModel(name) {
  if (!window.confirm(`Delete model ${name}? Its files are removed from the models folder.`)) return;
  try {
    await api("DELETE", `/api/models/${encodeURIComponent(name)}`);
    flash(`Model ${name} deleted.`, "ok");
  } catch (err) {
    flash(err.message, "error");
  }
  loadModels();
}

// --- Socket.IO -------------------------------------------------------------------------------

function setConn(stateName, label) {
  $("conn").dataset.state = stateName;
  $("conn-label").textContent = label;
}

function connect() {
  if (typeof window.io !== "function") {
    setConn("error", "No live updates");
    return;
  }
  const socket = window.io(CONFIG.namespace || "/admin", { transports: ["websocket", "polling"] });
  socket.on("connect", () => {
    setConn("connected", "Live");
    // Catch up on what happened while disconnected.
    loadRuns().then(resumeActive);
    loadModels();
  });
  socket.on("disconnect", () => setConn("connecting", "Reconnecting…"));
  socket.on("connect_error", (err) => {
    setConn("disconnected", err?.message === "admin login required" ? "Logged out" : "Offline");
    if (err?.message === "admin login required") window.location.assign("/admin/login");
  });
  socket.on("run_progress", onProgress);
  socket.on("run_status", onStatus);
  socket.on("run_log", onLog);
  socket.on("model_activated", () => loadModels());
}

async function resumeActive(data) {
  const active = data?.active;
  if (active === null || active === undefined) {
    if (state.liveId === null) renderCharts();
    return;
  }
  const full = await refreshRun(active);
  if (!full) return;
  if (state.liveId !== active) {
    beginLiveRun(active, full.name, full.params);
  }
  const live = full.live || {};
  const run = runEntry(active);
  run.steps = live.steps_per_epoch;
  $("log").textContent = "";
  for (const entry of live.log || []) appendLog(entry.t, entry.line);
  if (live.last_progress) onProgress({ run_id: active, ...live.last_progress });
  if (live.cancelling) setBadge("cancelling");
}

initForm();
loadData();
loadModels();
loadRuns().then(resumeActive);
connect();
