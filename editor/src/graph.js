// The flow drawn as an SVG: dagre lays the graph out, we draw boxes and edges ourselves.
// Every text comes from the flow and is set with textContent, never parsed as markup.
import dagre from "@dagrejs/dagre";

const SVG = "http://www.w3.org/2000/svg";
const NODE_H = 46;

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function width(node) {
  const longest = Math.max(node.id.length, (node.op || "").length);
  return Math.max(110, longest * 7.4 + 28);
}

/**
 * Draw `graph` ({nodes, edges}) into `svg`. `state` maps node ids to a run state
 * ("running", "done", "error") and `problems` holds the ids of nodes with problems.
 * `onSelect(node)` is called when a node is clicked.
 */
export function drawGraph(svg, graph, { problems = new Set(), state = {}, onSelect } = {}) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "TB", nodesep: 24, ranksep: 36, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) g.setNode(node.id, { width: width(node), height: NODE_H, node });
  for (const edge of graph.edges) {
    if (g.hasNode(edge.source) && g.hasNode(edge.target)) g.setEdge(edge.source, edge.target);
  }
  dagre.layout(g);
  svg.replaceChildren();
  const { width: w = 0, height: h = 0 } = g.graph();
  svg.setAttribute("viewBox", `0 0 ${Math.max(w, 10)} ${Math.max(h, 10)}`);
  svg.setAttribute("width", String(Math.max(w, 10)));
  svg.setAttribute("height", String(Math.max(h, 10)));
  const defs = el("defs");
  const marker = el("marker", {
    id: "arrow",
    viewBox: "0 0 10 10",
    refX: 9,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: "auto-start-reverse",
  });
  marker.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow" }));
  defs.append(marker);
  svg.append(defs);
  for (const e of g.edges()) {
    const points = g.edge(e).points || [];
    const d = points.map((p, i) => `${i ? "L" : "M"} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`);
    const path = el("path", { d: d.join(" "), class: "edge", "marker-end": "url(#arrow)" });
    path.dataset.source = e.v;
    path.dataset.target = e.w;
    svg.append(path);
  }
  for (const id of g.nodes()) {
    const { x, y, width: nw, height: nh, node } = g.node(id);
    const classes = ["node"];
    if (node.trigger) classes.push("trigger");
    if (problems.has(id)) classes.push("problem");
    if (state[id]) classes.push(state[id]);
    const group = el("g", {
      class: classes.join(" "),
      transform: `translate(${(x - nw / 2).toFixed(1)}, ${(y - nh / 2).toFixed(1)})`,
      tabindex: 0,
      role: "button",
    });
    group.dataset.node = id;
    group.append(el("rect", { width: nw, height: nh, rx: 7, ry: 7 }));
    group.append(el("text", { x: 12, y: 19, class: "name" }, id));
    group.append(el("text", { x: 12, y: 36, class: "op" }, node.op || "?"));
    group.append(el("title", {}, `${id}: ${node.op || "?"} (line ${node.line})`));
    const select = () => onSelect?.(node);
    group.addEventListener("click", select);
    group.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") select();
    });
    svg.append(group);
  }
}

/** Set one node's run state in an existing drawing (no relayout). */
export function markNode(svg, id, state) {
  for (const group of svg.querySelectorAll("g.node")) {
    if (group.dataset.node !== id) continue;
    group.classList.remove("running", "done", "error");
    if (state) group.classList.add(state);
  }
}
