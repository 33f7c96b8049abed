// Completion of operator names and their parameters, from the flow files' JSON Schema
// (GET /flow/schema) and, where the server has it, the operator catalogue (GET /nodes).

const TOP_KEYS = {
  name: "The flow's id, unique among served flows.",
  description: "What the flow does.",
  tags: "Free-form labels.",
  trigger: "The trigger, referred to as 'trigger' in edges.",
  nodes: "The nodes by name.",
  edges: "Links such as 'a >> b'.",
};
const NODE_KEYS = {
  op: "A registered operator name.",
  params: "The operator's parameters.",
  retries: "How many times a failing run is tried again.",
  timeout_s: "Seconds a run may take.",
};

/** What completion knows: operators with their summary, and each one's parameters. */
export class Catalogue {
  constructor() {
    this.ops = new Map(); // name -> {description, params: Map(name -> description)}
  }

  addSchema(schema) {
    const node = schema?.$defs?.NodeSpec;
    const names = node?.properties?.op?.anyOf?.[0]?.enum || [];
    for (const name of names) this._op(name);
    for (const rule of node?.allOf || []) {
      const op = rule?.if?.properties?.op;
      if (!op?.const) continue;
      const entry = this._op(op.const);
      if (op.description) entry.description = op.description;
      const props = rule?.then?.properties?.params?.properties || {};
      for (const [param, spec] of Object.entries(props)) {
        entry.params.set(param, describe(spec));
      }
    }
  }

  /** DB-GPT's node list (GET /nodes): name, description, parameters. */
  addNodes(nodes) {
    for (const item of Array.isArray(nodes) ? nodes : []) {
      const name = item?.name || item?.type_name;
      if (typeof name !== "string" || !name) continue;
      const entry = this._op(name);
      if (!entry.description && typeof item.description === "string") {
        entry.description = item.description;
      }
      for (const p of item.parameters || []) {
        if (p && typeof p.name === "string" && !entry.params.has(p.name)) {
          entry.params.set(p.name, [p.type_name, p.description].filter(Boolean).join(": "));
        }
      }
    }
  }

  _op(name) {
    let entry = this.ops.get(name);
    if (!entry) {
      entry = { description: "", params: new Map() };
      this.ops.set(name, entry);
    }
    return entry;
  }
}

function describe(spec) {
  const type = spec?.type || (spec?.anyOf ? spec.anyOf.map((s) => s.type).filter(Boolean).join(" | ") : "");
  return [type, spec?.description].filter(Boolean).join(": ");
}

/** The operator of the node whose `params:` block holds line `n`, if it is one. */
function paramsOwner(doc, lineNo, indent) {
  let paramsIndent = -1;
  let start = -1;
  for (let n = lineNo - 1; n >= 1; n--) {
    const text = doc.line(n).text;
    if (!text.trim() || text.trim().startsWith("#")) continue;
    const ind = text.length - text.trimStart().length;
    if (ind >= indent) continue;
    if (/^\s*params:\s*$/.test(text)) {
      paramsIndent = ind;
      start = n;
    }
    break;
  }
  if (paramsIndent < 0) return null;
  // The op is a sibling of `params:`, above or below it.
  for (const step of [-1, 1]) {
    for (let n = start + step; n >= 1 && n <= doc.lines; n += step) {
      const text = doc.line(n).text;
      if (!text.trim()) continue;
      const ind = text.length - text.trimStart().length;
      if (ind < paramsIndent) break;
      const m = ind === paramsIndent && text.match(/^\s*op:\s*["']?([\w.:-]+)/);
      if (m) return m[1];
    }
  }
  return null;
}

/** A CodeMirror completion source over `catalogue`. */
export function flowCompletions(catalogue) {
  return (context) => {
    const line = context.state.doc.lineAt(context.pos);
    const before = line.text.slice(0, context.pos - line.from);
    // `op: ll|` (block or inline form)
    let m = before.match(/(?:^|[\s{,])op:\s*["']?([\w.:-]*)$/);
    if (m) {
      return {
        from: context.pos - m[1].length,
        options: [...catalogue.ops].map(([name, op]) => ({
          label: name,
          type: "function",
          info: op.description || undefined,
        })),
        validFor: /^[\w.:-]*$/,
      };
    }
    // `{op: awel.format, params: {tem|`
    m = before.match(/op:\s*["']?([\w.:-]+)["']?[^{}]*params:\s*\{(?:[^{}]*,)?\s*(\w*)$/);
    let op = null;
    let word = "";
    if (m) {
      op = m[1];
      word = m[2];
    } else {
      m = before.match(/^(\s*)(\w*)$/);
      if (!m) return null;
      word = m[2];
      const indent = m[1].length;
      if (indent === 0) {
        return keys(context, word, TOP_KEYS, "property");
      }
      op = paramsOwner(context.state.doc, line.number, indent);
      if (!op) {
        if (!context.explicit && !word) return null;
        return keys(context, word, NODE_KEYS, "property");
      }
    }
    const entry = catalogue.ops.get(op);
    if (!entry) return null;
    return {
      from: context.pos - word.length,
      options: [...entry.params].map(([name, info]) => ({
        label: name,
        type: "property",
        info: info || undefined,
        apply: `${name}: `,
      })),
      validFor: /^\w*$/,
    };
  };
}

function keys(context, word, table, type) {
  return {
    from: context.pos - word.length,
    options: Object.entries(table).map(([label, info]) => ({ label, type, info, apply: `${label}: ` })),
    validFor: /^\w*$/,
  };
}
