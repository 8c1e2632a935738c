// The stillmotion playground: plain JavaScript against the service's own /v1 API, no build step,
// no request to any other origin. The form is generated from each model's JSON Schema.
"use strict";

const KEY_STORE = "stillmotion.key";
const IMAGE_FIELDS = { image: "Image", images: "Image", image_tail: "End frame" };
const FINAL = new Set(["succeeded", "failed", "canceled"]);
const QUOTE_IMAGE = "quote-placeholder"; // quotes do not fetch images; any non-empty string stands for one
const DEFAULT_PROMPT = "The camera zooms in slowly.";

const $ = (sel) => document.querySelector(sel);
const state = { key: "", models: [], model: null, images: {}, job: null, stream: null, cursor: null,
                quoteTimer: 0, quoteSeq: 0 };

class ApiError extends Error {
  constructor(status, body) {
    const err = (body && (body.error || body)) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.field = err.field || null;
    this.code = err.code || null;
  }
}

async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Authorization: `Bearer ${state.key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

const money = (amount) => (amount === null || amount === undefined ? "unlimited" : `$${amount}`);
const when = (iso) => (iso ? new Date(iso).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit",
                                                                 minute: "2-digit", second: "2-digit" }) : "");
const plain = (v) => (Array.isArray(v) ? v.map(plain).join(", ")
  : v && typeof v === "object" ? Object.entries(v).filter(([, x]) => x !== null && !(Array.isArray(x) && !x.length))
                                   .map(([k, x]) => `${k.replace(/_/g, " ")}: ${plain(x)}`).join("; ")
  : String(v));
const sameOrigin = (url) => {
  // Result links carry the service's public URL; played from here they need only path and query.
  if (!url) return url;
  const u = new URL(url, location.href);
  return u.pathname.startsWith("/files/") ? u.pathname + u.search : url;
};

// ---- key -------------------------------------------------------------------------------------

function showKeyError(message) {
  $("#key-error").textContent = message;
  $("#key").setAttribute("aria-invalid", message ? "true" : "false");
}

async function useKey(key) {
  state.key = key.trim();
  showKeyError("");
  if (!state.key) return showKeyError("Enter the API key that `stillmotion serve` printed at its first start.");
  try {
    const models = await api("/v1/models");
    localStorage.setItem(KEY_STORE, state.key);
    setModels(models.data);
    await Promise.all([loadJobs(true), loadUsage()]);
  } catch (err) {
    showKeyError(err.status === 401 ? "This key was refused: check it, or create one with `stillmotion keys create NAME`."
                                    : `Could not reach the service: ${err.message}`);
  }
}

// ---- the form from the model's schema -----------------------------------------------------------

function setModels(models) {
  state.models = models;
  const select = $("#model");
  const keep = select.value;
  select.replaceChildren();
  const groups = { job: "Job dialect (/api/v1/job)", async: "Async-task dialect (/v3/async)" };
  for (const [dialect, label] of Object.entries(groups)) {
    const group = el("optgroup", { label });
    for (const m of models.filter((x) => x.dialect === dialect)) group.append(el("option", { value: m.id, text: `${m.title} — ${m.id}` }));
    if (group.children.length) select.append(group);
  }
  const filter = $("#filter-model");
  filter.replaceChildren(el("option", { value: "", text: "any" }), ...models.map((m) => el("option", { value: m.id, text: m.id })));
  if (models.some((m) => m.id === keep)) select.value = keep;
  renderForm();
}

function kindOf(name, prop) {
  if (name in IMAGE_FIELDS) return "image";
  const types = [].concat(prop.type || [], ...(prop.anyOf || []).map((a) => a.type || []));
  if (prop.enum) return "enum";
  if (types.includes("boolean")) return "bool";
  if (types.includes("integer")) return "int";
  if (prop.format === "uri") return "url";
  if (name === "prompt") return "text";
  return "string";
}

function hintFor(name, prop, kind, required) {
  const parts = [];
  if (prop.description) parts.push(prop.description);
  if (kind === "int" && prop.minimum !== undefined) parts.push(`${prop.minimum}–${prop.maximum}`);
  if (prop.maxLength) parts.push(`at most ${prop.maxLength} characters`);
  if (prop.default !== undefined && prop.default !== "") parts.push(`default ${prop.default}`);
  if (kind === "image") parts.push("JPEG, PNG or WebP, at least 128 px a side; drop it here or pick a file");
  if (required) parts.push("required");
  return parts.join(" · ");
}

function fieldFor(name, prop, required) {
  const kind = kindOf(name, prop);
  const id = `f-${name}`;
  const text = IMAGE_FIELDS[name] ? (state.model.id.includes("start-end") && name === "image" ? "Start frame" : IMAGE_FIELDS[name])
                                  : name[0].toUpperCase() + name.slice(1).replace(/_/g, " ");
  const label = () => el("label", { for: id }, text, el("code", { text: name }));
  const described = `hint-${name} err-${name}`;
  let input;
  if (kind === "image") {
    input = el("input", { id, name, type: "file", accept: "image/jpeg,image/png,image/webp", "aria-describedby": described, required });
    input.addEventListener("change", () => readImage(name, input.files[0]));
  } else if (kind === "enum") {
    const options = prop.enum.filter((v) => typeof v === "string" && !/^[0-9]+$/.test(v));
    input = el("select", { id, name, "aria-describedby": described });
    if (prop.default === undefined) input.append(el("option", { value: "", text: "(none)" }));
    for (const v of options) input.append(el("option", { value: v, text: v, selected: v === prop.default }));
  } else if (kind === "bool") {
    input = el("input", { id, name, type: "checkbox", checked: prop.default === true, "aria-describedby": described });
  } else if (kind === "int") {
    input = el("input", { id, name, type: "number", inputmode: "numeric", min: prop.minimum, max: prop.maximum, step: 1,
                          value: prop.default ?? "", placeholder: prop.default === undefined ? "random" : undefined,
                          "aria-describedby": described });
  } else if (kind === "text") {
    input = el("textarea", { id, name, rows: 2, maxlength: prop.maxLength, "aria-describedby": described, required });
    input.value = DEFAULT_PROMPT;
  } else {
    input = el("input", { id, name, type: kind === "url" ? "url" : "text", "aria-describedby": described,
                          placeholder: kind === "url" ? "https://..." : undefined });
  }
  input.dataset.kind = kind;
  const wrap = el("div", { class: `field field-${kind}`, id: `field-${name}` });
  if (kind === "bool") wrap.append(el("span", { class: "check" }, input, label()));
  else wrap.append(label(), input);
  if (kind === "image") {
    wrap.classList.add("drop");
    wrap.append(el("img", { id: `preview-${name}`, alt: "", class: "preview", hidden: true }));
    wrap.addEventListener("dragover", (e) => { e.preventDefault(); wrap.classList.add("over"); });
    wrap.addEventListener("dragleave", () => wrap.classList.remove("over"));
    wrap.addEventListener("drop", (e) => {
      e.preventDefault();
      wrap.classList.remove("over");
      if (e.dataTransfer.files[0]) readImage(name, e.dataTransfer.files[0]);
    });
  }
  wrap.append(el("p", { id: `hint-${name}`, class: "hint", text: hintFor(name, prop, kind, required) }),
              el("p", { id: `err-${name}`, class: "error", role: "alert" }));
  return wrap;
}

function renderForm() {
  state.model = state.models.find((m) => m.id === $("#model").value) || state.models[0];
  if (!state.model) return;
  state.images = {};
  const schema = state.model.input_schema;
  const required = new Set(schema.required || []);
  const names = Object.keys(schema.properties);
  names.sort((a, b) => (b in IMAGE_FIELDS) - (a in IMAGE_FIELDS)); // images first, then the schema's order
  $("#fields").replaceChildren(...names.map((n) => fieldFor(n, schema.properties[n], required.has(n))));
  $("#model-hint").textContent = `${state.model.dialect === "job" ? "Job" : "Async-task"} dialect · ${state.model.task_type}`;
  clearErrors();
  scheduleQuote();
}

function readImage(name, file) {
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => {
    state.images[name] = reader.result;
    const img = $(`#preview-${name}`);
    img.src = reader.result;
    img.alt = `${file.name} (preview)`;
    img.hidden = false;
    setError(name, "");
  };
  reader.readAsDataURL(file);
}

function collectInput(forQuote) {
  const input = {};
  const schema = state.model.input_schema.properties;
  for (const node of $("#fields").querySelectorAll("[data-kind]")) {
    const name = node.name, kind = node.dataset.kind;
    if (kind === "image") {
      const value = state.images[name] || (forQuote ? QUOTE_IMAGE : undefined);
      if (value !== undefined) input[name] = schema[name].type === "array" ? [value] : value;
    } else if (kind === "bool") input[name] = node.checked;
    else if (kind === "int") { if (node.value !== "") input[name] = Number(node.value); }
    else if (node.value !== "") input[name] = node.value;
  }
  return input;
}

// ---- errors next to their field ----------------------------------------------------------------

function fieldName(field) {
  return field ? field.replace(/^(input|args)\./, "").replace(/\[\d+\]$/, "").split(".")[0] : null;
}

function setError(name, message) {
  const slot = document.getElementById(`err-${name}`);
  if (slot) slot.textContent = message;
  const input = document.getElementById(`f-${name}`) || (name === "model" ? $("#model") : null);
  if (input) input.setAttribute("aria-invalid", message ? "true" : "false");
  return Boolean(slot);
}

function clearErrors() {
  for (const slot of document.querySelectorAll("#job-form .error")) slot.textContent = "";
  for (const node of document.querySelectorAll("#job-form [aria-invalid]")) node.setAttribute("aria-invalid", "false");
}

function showError(err) {
  if (err.status === 401) return showKeyError("This key was refused.");
  const name = fieldName(err.field);
  if (!(name && setError(name, err.message))) $("#form-error").textContent = err.message;
}

// ---- price -------------------------------------------------------------------------------------

function scheduleQuote() {
  clearTimeout(state.quoteTimer);
  state.quoteTimer = setTimeout(quote, 150);
}

async function quote() {
  if (!state.model || !state.key) return;
  const seq = ++state.quoteSeq;
  const out = $("#price");
  out.setAttribute("aria-busy", "true");
  try {
    const q = await api("/v1/quote", { method: "POST", body: { model: state.model.id, input: collectInput(true) } });
    if (seq !== state.quoteSeq) return;
    clearErrors();
    out.textContent = `${money(q.amount)} ${q.off_peak ? "(off-peak, half price)" : ""}`.trim();
    out.dataset.amount = q.amount;
  } catch (err) {
    if (seq !== state.quoteSeq) return;
    clearErrors();
    out.textContent = "–";
    delete out.dataset.amount;
    showError(err);
  } finally {
    if (seq === state.quoteSeq) out.removeAttribute("aria-busy");
  }
}

// ---- submit and watch --------------------------------------------------------------------------

async function submit(event) {
  event.preventDefault();
  clearErrors();
  const button = $("#submit");
  button.disabled = true;
  try {
    const job = await api("/v1/jobs", { method: "POST", body: { model: state.model.id, input: collectInput(false) } });
    showJob(job);
    watch(job.id);
    loadJobs(true);
    loadUsage();
  } catch (err) {
    showError(err);
  } finally {
    button.disabled = false;
  }
}

function watch(jobId) {
  if (state.stream) state.stream.abort();
  const controller = new AbortController();
  state.stream = controller;
  streamEvents(jobId, controller.signal).catch(() => poll(jobId, controller.signal));
}

async function streamEvents(jobId, signal) {
  const res = await fetch(`/v1/jobs/${jobId}/events`, { headers: { Authorization: `Bearer ${state.key}` }, signal });
  if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message", data = "";
      for (const line of frame.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (!data) continue;
      if (name === "end") return finish(jobId);
      showJob(JSON.parse(data));
    }
  }
  return finish(jobId);
}

async function poll(jobId, signal) {
  while (!signal.aborted) {
    const job = await api(`/v1/jobs/${jobId}`);
    showJob(job);
    if (FINAL.has(job.status)) return finish(jobId);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function finish(jobId) {
  if (state.job && state.job.id !== jobId) return;
  showJob(await api(`/v1/jobs/${jobId}`));
  loadJobs(true);
  loadUsage();
}

async function cancel(jobId) {
  try {
    const job = await api(`/v1/jobs/${jobId}/cancel`, { method: "POST" });
    if (state.job && state.job.id === jobId) showJob(job);
    loadJobs(true);
    loadUsage();
  } catch (err) {
    $("#job-error").textContent = err.message;
  }
}

// ---- one job -----------------------------------------------------------------------------------

function showJob(job) {
  const changed = !state.job || state.job.id !== job.id;
  state.job = job;
  $("#current").hidden = false;
  $("#job-id").textContent = job.id;
  const badge = $("#job-status");
  badge.textContent = job.status;
  badge.dataset.status = job.status;
  $("#job-queue").textContent = job.queue_position !== null && job.queue_position !== undefined
    ? (job.queue_position === 0 ? "next in the queue" : `${job.queue_position} job(s) ahead`) : "";
  $("#job-eta").textContent = !FINAL.has(job.status) && job.eta !== null ? `about ${job.eta} s left` : "";
  $("#job-progress").value = job.progress;
  $("#job-progress-text").textContent = `${job.progress} %`;
  $("#job-error").textContent = job.error ? `${job.error.code}: ${job.error.message}` : "";
  $("#job-cancel").hidden = FINAL.has(job.status);
  $("#job-cancel").onclick = () => cancel(job.id);
  const video = $("#job-video"), link = $("#job-download");
  const out = job.output;
  if (job.status === "succeeded" && out && out.video_url) {
    const src = sameOrigin(out.video_url);
    if (video.getAttribute("src") !== src) {
      video.poster = sameOrigin(out.cover_url);
      video.src = src;
    }
    video.hidden = false;
    link.href = src;
    link.download = `${job.id}.mp4`;
    link.hidden = false;
  } else if (changed || !FINAL.has(job.status)) {
    video.removeAttribute("src");
    video.hidden = true;
    link.hidden = true;
  }
  $("#job-facts").replaceChildren(...facts(job));
  $("#job-json").textContent = JSON.stringify(job, null, 2);
}

function facts(job) {
  const list = (title, rows) => rows.length ? el("div", {}, el("h3", { text: title }),
    el("dl", {}, ...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })]))) : null;
  const out = job.output || {}, meta = job.metadata || {}, motion = meta.motion || {};
  const video = job.output ? [["size", `${out.width}×${out.height}`], ["fps", out.fps], ["duration", `${out.duration} s`],
                              ["audio track", out.has_audio ? "yes" : "no"]] : [];
  const plan = (motion.segments || []).map((s) => [`${s.start}–${s.end} s`,
    `${s.move}${s.speed ? ` (${s.speed})` : ""}${s.matched ? ` from “${s.matched}”` : ""}`]);
  if (motion.style) plan.push(["style", motion.style]);
  if (motion.effects && motion.effects.length) plan.push(["effects", motion.effects.map((e) => e.name || e.kind || JSON.stringify(e)).join(", ")]);
  if (motion.depth) plan.push(["depth", `${motion.depth.source}, ${motion.depth.layers} layer(s)`]);
  if (motion.transition) plan.push(["transition", motion.transition]);
  const audio = Object.entries(meta.audio || {}).filter(([, v]) => v !== null && v !== "")
    .map(([k, v]) => [k.replace(/_/g, " "), plain(v)]);
  const run = [["price", money(job.amount)], ["seed", job.seed], ["created", when(job.created_at)]];
  if (meta.render_s !== undefined) run.push(["render time", `${meta.render_s} s`]);
  if (job.refunded) run.push(["refunded", "yes"]);
  return [list("Video", video), list("Motion plan", plan), list("Audio", audio), list("Run", run)].filter(Boolean);
}

// ---- past jobs and usage -----------------------------------------------------------------------

async function loadJobs(reset) {
  if (!state.key) return;
  const params = new URLSearchParams({ limit: "10" });
  const status = $("#filter-status").value, model = $("#filter-model").value;
  if (status) params.set("status", status);
  if (model) params.set("model", model);
  if (!reset && state.cursor) params.set("cursor", state.cursor);
  const page = await api(`/v1/jobs?${params}`);
  const body = $("#jobs-table tbody");
  if (reset) body.replaceChildren();
  for (const job of page.data) {
    const open = el("button", { type: "button", text: "Open", "aria-label": `Open job ${job.id}` });
    open.onclick = () => { showJob(job); if (!FINAL.has(job.status)) watch(job.id); $("#current").scrollIntoView(); };
    const actions = el("td", {}, open);
    if (!FINAL.has(job.status)) {
      const stop = el("button", { type: "button", text: "Cancel", "aria-label": `Cancel job ${job.id}` });
      stop.onclick = () => cancel(job.id);
      actions.append(" ", stop);
    }
    body.append(el("tr", { "data-job": job.id },
      el("td", { text: when(job.created_at) }), el("td", { text: job.model }),
      el("td", {}, el("span", { class: "badge", "data-status": job.status, text: job.status })),
      el("td", { text: money(job.amount) }), actions));
  }
  state.cursor = page.next_cursor;
  $("#jobs-more").hidden = !page.has_more;
}

async function loadUsage() {
  if (!state.key) return;
  const usage = await api("/v1/usage?limit=20");
  $("#balance").textContent = money(usage.balance);
  $("#spent").textContent = money(usage.net_spent);
  $("#ledger tbody").replaceChildren(...usage.ledger.map((line) => el("tr", {},
    el("td", { text: when(line.created_at) }), el("td", { text: line.kind }), el("td", { text: money(line.amount) }),
    el("td", {}, el("code", { text: line.job_id ? line.job_id.slice(0, 8) : "" })))));
}

// ---- wiring ------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("#key-form").addEventListener("submit", (e) => { e.preventDefault(); useKey($("#key").value); });
  $("#model").addEventListener("change", renderForm);
  $("#fields").addEventListener("input", scheduleQuote);
  $("#fields").addEventListener("change", scheduleQuote);
  $("#job-form").addEventListener("submit", submit);
  $("#jobs-filter").addEventListener("submit", (e) => { e.preventDefault(); loadJobs(true); });
  $("#jobs-more").addEventListener("click", () => loadJobs(false));
  const saved = localStorage.getItem(KEY_STORE);
  if (saved) { $("#key").value = saved; useKey(saved); }
});
