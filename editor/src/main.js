// The flow editor: YAML on the left, the drawing and the run on the right.
//
// The page is static and holds nothing secret; everything it knows comes from this
// server's API, called with the key the user typed (see api.js). Text that comes from
// flows or runs is only ever put in the page with textContent.
import { autocompletion } from "@codemirror/autocomplete";
import { yaml } from "@codemirror/lang-yaml";
import { setDiagnostics } from "@codemirror/lint";
import { lintGutter } from "@codemirror/lint";
import { Compartment, EditorState, Prec } from "@codemirror/state";
import { oneDark } from "@codemirror/theme-one-dark";
import { keymap } from "@codemirror/view";
import { EditorView, basicSetup } from "codemirror";

import { API, ApiError, apiKey, call, readEvents, sameOrigin, setApiKey } from "./api.js";
import { Catalogue, flowCompletions } from "./complete.js";
import { drawGraph, markNode } from "./graph.js";

const SAMPLE = `name: examples.hello_editor
description: Greets a person by name.
trigger: {}
nodes:
  greet:
    op: awel.format
    params:
      template: "Hello, {{ name }}"
edges:
  - trigger >> greet
`;
const THEME_NAME = "awel.theme";
const $ = (id) => document.getElementById(id);

const app = {
  view: null,
  flow: null, // the stored flow open now (FlowPanel-like), or null for a new one
  check: null, // the last validation answer
  graphKey: "",
  runState: {},
  seq: 0,
  inflight: null,
  catalogue: new Catalogue(),
  validations: 0,
};
// For the browser tests and the benchmark: the editor's state, read-only by convention.
window.awelEditor = app;

// --- status and small helpers ---------------------------------------------------------------

function status(text, kind = "") {
  const line = $("status");
  line.textContent = text;
  line.dataset.kind = kind;
}

function fail(what, err) {
  const detail = err instanceof ApiError ? `${err.message} (HTTP ${err.status})` : String(err?.message || err);
  status(`${what}: ${detail}`, "error");
}

function pretty(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function text() {
  return app.view.state.doc.toString();
}

// --- the editor -------------------------------------------------------------------------------

const themeSlot = new Compartment();

function isDark() {
  return document.documentElement.dataset.theme === "dark";
}

function applyTheme(dark) {
  document.documentElement.dataset.theme = dark ? "dark" : "light";
  app.view?.dispatch({ effects: themeSlot.reconfigure(dark ? oneDark : []) });
}

function makeEditor() {
  const shortcuts = Prec.highest(
    keymap.of([
      { key: "Mod-s", preventDefault: true, run: () => (save(), true) },
      { key: "Mod-Enter", preventDefault: true, run: () => (run(), true) },
    ]),
  );
  app.view = new EditorView({
    parent: $("editor"),
    state: EditorState.create({
      doc: SAMPLE,
      extensions: [
        basicSetup,
        yaml(),
        lintGutter(),
        autocompletion({ override: [flowCompletions(app.catalogue)] }),
        shortcuts,
        themeSlot.of(isDark() ? oneDark : []),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) scheduleValidation();
        }),
      ],
    }),
  });
}

function setText(yamlText) {
  app.view.dispatch({ changes: { from: 0, to: app.view.state.doc.length, insert: yamlText } });
}

function gotoLine(line, column = 1) {
  const doc = app.view.state.doc;
  const l = doc.line(Math.min(Math.max(line, 1), doc.lines));
  const pos = Math.min(l.from + Math.max(column - 1, 0), l.to);
  app.view.dispatch({ selection: { anchor: pos, head: l.to }, scrollIntoView: true });
  app.view.focus();
}

// --- validation and the drawing ---------------------------------------------------------------

// Validation waits this long after the last key: long enough to batch a burst of typing,
// short enough that markers follow a keystroke in under 100 ms (bench/editor_validate.py).
const DEBOUNCE_MS = 50;
let timer = null;

function scheduleValidation() {
  clearTimeout(timer);
  timer = setTimeout(validate, DEBOUNCE_MS);
}

async function validate() {
  const seq = ++app.seq;
  app.inflight?.abort();
  const ctrl = new AbortController();
  app.inflight = ctrl;
  let check;
  try {
    check = await call(`${API}/flow/validate`, { method: "POST", body: { yaml: text() }, signal: ctrl.signal });
  } catch (err) {
    if (err?.name !== "AbortError") fail("validation failed", err);
    return;
  }
  if (seq !== app.seq) return; // a newer keystroke is on its way
  app.check = check;
  showProblems(check);
  showGraph(check);
  app.validations += 1;
  app.validatedAt = performance.now();
  document.body.dataset.validations = String(app.validations);
}

function showProblems(check) {
  const doc = app.view.state.doc;
  const diagnostics = [];
  for (const p of check.problems) {
    const lineNo = Math.min(Math.max(p.line || 1, 1), doc.lines);
    const line = doc.line(lineNo);
    const from = Math.min(line.from + Math.max((p.column || 1) - 1, 0), line.to);
    const word = /^[^\s,}\]]*/.exec(doc.sliceString(from, line.to))[0].length;
    diagnostics.push({ from, to: Math.max(from + word, Math.min(from + 1, line.to)), severity: "error", message: p.message, source: p.code });
  }
  app.view.dispatch(setDiagnostics(app.view.state, diagnostics));
  const list = $("problems");
  list.replaceChildren();
  for (const p of check.problems) {
    const item = document.createElement("li");
    item.className = "problem";
    item.dataset.line = String(p.line ?? "");
    item.textContent = p.line ? `line ${p.line}: ${p.message}` : p.message;
    if (p.line) item.addEventListener("click", () => gotoLine(p.line, p.column || 1));
    list.append(item);
  }
  $("check").textContent = check.ok ? "✓ valid" : `${check.problems.length} problem${check.problems.length === 1 ? "" : "s"}`;
  $("check").dataset.ok = String(check.ok);
}

function showGraph(check) {
  const svg = $("graph");
  // Text that does not parse has no outline: keep the last drawing, marked stale.
  if (!check.graph.nodes.length && !check.ok) {
    svg.classList.add("stale");
    return;
  }
  svg.classList.remove("stale");
  const problems = new Set(check.problems.map((p) => p.node).filter(Boolean));
  const key = JSON.stringify([check.graph, [...problems]]);
  if (key === app.graphKey) return;
  app.graphKey = key;
  drawGraph(svg, check.graph, {
    problems,
    state: app.runState,
    onSelect: (node) => gotoLine(node.line, node.column),
  });
}

// --- the run (debug stream) ---------------------------------------------------------------------

function inputValue() {
  const raw = $("run-input").value.trim();
  if (!raw) return {};
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new Error(`the input is not JSON: ${err.message}`);
  }
}

function nodeRow(id) {
  const log = $("run-log");
  let row = log.querySelector(`[data-node="${CSS.escape(id)}"]`);
  if (!row) {
    row = document.createElement("details");
    row.className = "run-node";
    row.open = true;
    row.dataset.node = id;
    const summary = document.createElement("summary");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = id;
    const state = document.createElement("span");
    state.className = "state";
    const ms = document.createElement("span");
    ms.className = "ms";
    summary.append(name, state, ms);
    const out = document.createElement("pre");
    out.className = "output";
    row.append(summary, out);
    log.append(row);
  }
  return row;
}

function setRow(id, state, { ms, output, append } = {}) {
  const row = nodeRow(id);
  row.dataset.state = state;
  row.querySelector(".state").textContent = state;
  if (ms !== undefined) row.querySelector(".ms").textContent = `${ms} ms`;
  const out = row.querySelector(".output");
  if (output !== undefined) out.textContent = pretty(output);
  if (append !== undefined) out.textContent += typeof append === "string" ? append : `${JSON.stringify(append)}\n`;
  app.runState[id] = state === "streaming" ? "running" : state;
  markNode($("graph"), id, app.runState[id]);
}

function onEvent(event) {
  switch (event.event) {
    case "start":
      status(`running ${event.flow}…`);
      break;
    case "node_start":
      setRow(event.node, "running");
      break;
    case "node_stream":
      setRow(event.node, "streaming", { ms: event.ms });
      break;
    case "item":
      setRow(event.node, "streaming", { append: event.data });
      break;
    case "node_end":
      setRow(event.node, "done", event.output !== undefined ? { ms: event.ms, output: event.output } : { ms: event.ms });
      break;
    case "node_error":
      setRow(event.node, "error", { ms: event.ms, output: `${event.code}: ${event.message}` });
      break;
    case "result":
      $("result").textContent = pretty(event.data);
      $("result").dataset.kind = "ok";
      status(`done in ${event.elapsed_ms} ms (${event.ran.length} nodes ran)`, "ok");
      break;
    case "error":
      $("result").textContent = `${event.failed_node ? `node '${event.failed_node}' failed: ` : ""}${event.message}`;
      $("result").dataset.kind = "error";
      status(`failed: ${event.code}`, "error");
      break;
    default:
      break;
  }
}

async function run() {
  let request;
  try {
    request = inputValue();
  } catch (err) {
    fail("cannot run", err);
    return;
  }
  $("run-log").replaceChildren();
  $("result").textContent = "";
  app.runState = {};
  for (const g of $("graph").querySelectorAll("g.node")) g.classList.remove("running", "done", "error");
  status("starting the run…");
  try {
    const resp = await call(`${API}/flow/debug`, {
      method: "POST",
      body: { flow: { yaml: text() }, request, format: "nodes" },
      raw: true,
    });
    if (!resp.ok) {
      const body = await resp.json().catch(() => null);
      throw new ApiError(resp.status, body?.err_msg || resp.statusText, body);
    }
    await readEvents(resp, (data) => onEvent(JSON.parse(data)));
  } catch (err) {
    fail("run failed", err);
  }
}

// --- stored flows (the flow CRUD API) ------------------------------------------------------------

function flowUrl(uid) {
  return `${API}/flows/${encodeURIComponent(uid)}`;
}

async function listFlows() {
  const list = $("flow-list");
  try {
    const page = await call(`${API}/flows?page=1&page_size=200`);
    list.replaceChildren();
    for (const flow of page?.items || []) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "flow";
      button.dataset.uid = flow.uid;
      button.textContent = flow.label || flow.name || flow.uid;
      const state = document.createElement("span");
      state.className = "flow-state";
      state.textContent = flow.state || "";
      button.append(state);
      button.addEventListener("click", () => openFlow(flow.uid, true));
      item.append(button);
      list.append(item);
    }
    if (!list.children.length) list.append(note("no stored flows yet"));
  } catch (err) {
    list.replaceChildren(note(err instanceof ApiError && err.status === 404 ? "stored flows are not available on this server" : `cannot list flows: ${err.message}`));
  }
}

function note(message) {
  const item = document.createElement("li");
  item.className = "note";
  item.textContent = message;
  return item;
}

async function openFlow(uid, push) {
  try {
    const flow = await call(flowUrl(uid));
    app.flow = flow;
    setText(flow.yaml || "");
    $("flow-title").textContent = flow.label || flow.name || uid;
    if (push) history.pushState({ uid }, "", `/flows/${encodeURIComponent(uid)}`);
    status(`opened ${flow.name || uid}`);
    await listVersions();
  } catch (err) {
    fail(`cannot open ${uid}`, err);
  }
}

function newFlow() {
  app.flow = null;
  setText(SAMPLE);
  $("flow-title").textContent = "new flow";
  $("versions").replaceChildren();
  history.pushState({}, "", "/flows");
}

async function save(state) {
  const name = app.check?.name || app.flow?.name || "untitled";
  const body = { ...(app.flow || {}), name, label: app.flow?.label || name, yaml: text() };
  if (state) body.state = state;
  try {
    const saved = app.flow?.uid
      ? await call(flowUrl(app.flow.uid), { method: "PUT", body })
      : await call(`${API}/flows`, { method: "POST", body });
    app.flow = saved;
    $("flow-title").textContent = saved.label || saved.name || saved.uid;
    history.replaceState({ uid: saved.uid }, "", `/flows/${encodeURIComponent(saved.uid)}`);
    status(state === "deployed" ? `deployed ${saved.name}` : `saved ${saved.name}`, "ok");
    await Promise.all([listFlows(), listVersions()]);
  } catch (err) {
    fail(state === "deployed" ? "deploy failed" : "save failed", err);
  }
}

async function listVersions() {
  const select = $("versions");
  select.replaceChildren();
  if (!app.flow?.uid) return;
  try {
    const answer = await call(`${flowUrl(app.flow.uid)}/versions`);
    const versions = Array.isArray(answer) ? answer : answer?.items || [];
    for (const v of versions) {
      const option = document.createElement("option");
      option.value = String(v.version);
      const when = v.gmt_created || v.created_at || "";
      option.textContent = `v${v.version}${when ? ` · ${when}` : ""}${v.state ? ` · ${v.state}` : ""}`;
      select.append(option);
    }
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) fail("cannot list versions", err);
  }
}

async function rollback() {
  const version = $("versions").value;
  if (!app.flow?.uid || !version) {
    status("choose a stored flow and a version first", "error");
    return;
  }
  try {
    const flow = await call(`${flowUrl(app.flow.uid)}/rollback`, { method: "POST", body: { version: Number(version) } });
    app.flow = flow;
    setText(flow.yaml || "");
    status(`rolled back to v${version}`, "ok");
    await Promise.all([listFlows(), listVersions()]);
  } catch (err) {
    fail("rollback failed", err);
  }
}

function triggerOf() {
  const meta = app.flow?.metadata?.triggers?.[0];
  if (meta?.path) return { path: meta.path, method: (meta.methods || ["POST"])[0] };
  const t = app.check?.trigger;
  if (t?.path) return { path: t.path, method: (t.methods || ["POST"])[0] };
  return null;
}

async function callTrigger() {
  const trigger = triggerOf();
  const out = $("trigger-out");
  if (!trigger) {
    status("this flow has no HTTP trigger to call", "error");
    return;
  }
  let request;
  try {
    request = inputValue();
    sameOrigin(trigger.path);
  } catch (err) {
    fail("cannot call the trigger", err);
    return;
  }
  out.textContent = "";
  const method = trigger.method.toUpperCase();
  let path = trigger.path;
  if ((method === "GET" || method === "DELETE") && request && typeof request === "object") {
    const query = new URLSearchParams(Object.entries(request).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
    path += `?${query}`;
  }
  try {
    const resp = await call(path, { method, body: method === "GET" || method === "DELETE" ? undefined : request, raw: true });
    out.dataset.status = String(resp.status);
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out.textContent += decoder.decode(value, { stream: true });
    }
    status(`${method} ${trigger.path}: HTTP ${resp.status}`, resp.ok ? "ok" : "error");
  } catch (err) {
    fail("trigger call failed", err);
  }
}

// --- the API key ------------------------------------------------------------------------------

function showKeyDialog(reason) {
  const dialog = $("key-dialog");
  $("key-reason").textContent = reason || "";
  $("key-input").value = "";
  if (!dialog.open) dialog.showModal();
}

function wireKey() {
  $("key-button").addEventListener("click", () => showKeyDialog(apiKey() ? "A key is stored in this browser." : ""));
  $("key-save").addEventListener("click", (ev) => {
    ev.preventDefault();
    setApiKey($("key-input").value.trim());
    $("key-dialog").close();
    status("API key stored in this browser", "ok");
    start();
  });
  $("key-forget").addEventListener("click", (ev) => {
    ev.preventDefault();
    setApiKey("");
    $("key-dialog").close();
    status("API key forgotten");
  });
  $("key-cancel").addEventListener("click", (ev) => {
    ev.preventDefault();
    $("key-dialog").close();
  });
  call.onUnauthorized = () => showKeyDialog("This server needs an API key.");
}

// --- start ----------------------------------------------------------------------------------------

async function loadCatalogue() {
  try {
    app.catalogue.addSchema(await call(`${API}/flow/schema`));
  } catch (err) {
    fail("cannot load the operator schema", err);
  }
  try {
    app.catalogue.addNodes(await call(`${API}/nodes`));
  } catch {
    // GET /nodes is optional: the schema alone completes names and parameters.
  }
}

function uidFromPath() {
  const m = window.location.pathname.match(/^\/flows\/([^/]+)\/?$/);
  return m ? decodeURIComponent(m[1]) : null;
}

async function start() {
  const uid = uidFromPath();
  const jobs = [loadCatalogue(), listFlows()];
  if (uid) jobs.push(openFlow(uid, false));
  else scheduleValidation();
  await Promise.all(jobs);
}

function main() {
  const stored = localStorage.getItem(THEME_NAME);
  const dark = stored ? stored === "dark" : window.matchMedia?.("(prefers-color-scheme: dark)").matches;
  document.documentElement.dataset.theme = dark ? "dark" : "light";
  makeEditor();
  wireKey();
  $("new-flow").addEventListener("click", newFlow);
  $("save").addEventListener("click", () => save());
  $("deploy").addEventListener("click", () => save("deployed"));
  $("rollback").addEventListener("click", rollback);
  $("run").addEventListener("click", run);
  $("call-trigger").addEventListener("click", callTrigger);
  $("theme").addEventListener("click", () => {
    const next = !isDark();
    localStorage.setItem(THEME_NAME, next ? "dark" : "light");
    applyTheme(next);
  });
  document.addEventListener("keydown", (ev) => {
    if (!(ev.ctrlKey || ev.metaKey) || app.view.hasFocus) return;
    if (ev.key === "s") {
      ev.preventDefault();
      save();
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      run();
    }
  });
  window.addEventListener("popstate", () => {
    const uid = uidFromPath();
    if (uid) openFlow(uid, false);
    else newFlow();
  });
  start();
}

main();
