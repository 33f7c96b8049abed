"""Our YAML flows as DB-GPT's ``flow_data`` (``{nodes, edges, viewport}``) and back.

The YAML is the source of truth; ``flow_data`` is made from it on every answer so DB-GPT's
web UI can draw the flow. Each node is an operator node in DB-GPT's shape: its metadata id
``operator_<op>___$$___<category>___$$___v1``, its node id that id plus ``_<n>`` (n counts
the op's nodes from 0), ``data.name`` and ``data.type_name`` our registry name, the YAML
node's name in ``data.custom_label``. Edges link ``<id>|outputs|0`` to ``<id>|inputs|<i>``,
``i`` the upstream's place among the target's inputs (a join's argument order). Nodes are
laid out in columns by their depth from the trigger.

Going back, a node maps when ``data.name`` or ``data.type_name`` is one of our operators;
a DB-GPT node we do not have (``type_cls: dbgpt.…``, a resource) is refused naming it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from awel import registry
from awel.dag import DAG
from awel.describe import describe
from awel.errors import AwelError
from awel.operators import TriggerOperator
from awel.spec_dump import NODE_NAME, PLAIN_TRIGGER, TRIGGER, TRIGGER_OP_PREFIX

from .errors import FlowUnmappable
from .nodes import category_of as palette_category
from .nodes import metadata_id as palette_id
from .nodes import scalar

__all__ = ["category_of", "flow_data_of", "metadata_id", "yaml_of_flow_data"]

_COLUMN, _ROW = 380, 220
_NODE_KEY = re.compile(NODE_NAME)


def category_of(op: str) -> str:
    """DB-GPT's category of our operator ``op``: the palette's (``GET /nodes``), so a drawn
    node's ids are the palette entry's."""
    return palette_category(op)


def metadata_id(op: str) -> str:
    """DB-GPT's id of an operator's metadata, as ``GET /nodes`` gives it."""
    return palette_id(op, palette_category(op))


def _trigger_op(section: Any) -> tuple[str, dict[str, Any]]:
    """The trigger's op and params, whichever of the YAML's forms it is written in."""
    if not isinstance(section, dict) or not section:
        return PLAIN_TRIGGER, {}
    if "op" in section or "params" in section:
        return str(section.get("op", PLAIN_TRIGGER)), dict(section.get("params") or {})
    ((kind, params),) = section.items()
    return TRIGGER_OP_PREFIX + str(kind), dict(params or {})


def flow_data_of(text: str, dag: DAG | None) -> dict[str, Any]:
    """The ``flow_data`` of a flow's YAML ``text`` (its loaded ``dag`` gives the links);
    no nodes when the flow does not load."""
    empty: dict[str, Any] = {"nodes": [], "edges": [], "viewport": {"x": 0, "y": 0, "zoom": 1}}
    data = yaml.safe_load(text) if dag is not None else None
    if not isinstance(data, dict) or dag is None:
        return empty
    declared: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
    if "trigger" in data:
        op, params = _trigger_op(data["trigger"])
        declared.append((TRIGGER, op, params, {}))
    for key, node in (data.get("nodes") or {}).items():
        policy = {k: node[k] for k in ("retries", "timeout_s") if k in node}
        declared.append((str(key), str(node["op"]), dict(node.get("params") or {}), policy))
    counts: dict[str, int] = {}
    ids: dict[str, str] = {}
    for key, op, _, _ in declared:
        n = counts.get(op, 0)
        counts[op] = n + 1
        ids[key] = f"{metadata_id(op)}_{n}"
    depth = _depths(dag)
    rows: dict[int, int] = {}
    nodes = []
    for key, op, params, policy in declared:
        d = depth.get(key, 0)
        row = rows.get(d, 0)
        rows[d] = row + 1
        upstream = [u.task_name for u in dag.get_node(key).upstream]
        nodes.append(_node(ids[key], key, op, params, policy, (d, row), len(upstream)))
    edges = []
    for key, _, _, _ in declared:
        target = ids[key]
        for i, up in enumerate(dag.get_node(key).upstream):
            source = ids[str(up.task_name)]
            edges.append(
                {
                    "id": f"{source}|{target}",
                    "source": source,
                    "target": target,
                    "source_order": 0,
                    "target_order": i,
                    "source_handle": f"{source}|outputs|0",
                    "target_handle": f"{target}|inputs|{i}",
                    "type": "buttonedge",
                }
            )
    return {**empty, "nodes": nodes, "edges": edges}


def _depths(dag: DAG) -> dict[str, int]:
    """Each node's column: its longest path from a root."""
    depth: dict[str, int] = {}
    for node in dag.topological_nodes():
        ups = [depth.get(str(u.task_name), 0) + 1 for u in node.upstream]
        depth[str(node.task_name)] = max(ups, default=0)
    return depth


def _node(
    node_id: str,
    key: str,
    op: str,
    params: dict[str, Any],
    policy: dict[str, Any],
    place: tuple[int, int],
    inputs: int,
) -> dict[str, Any]:
    try:
        info = describe(op) if ":" not in op else None
    except AwelError:
        info = None
    takes, gives = (info.takes, info.gives) if info else ("Any", "Any")
    if info is not None:
        parameters = [
            _parameter(p.name, p.type, not p.required, p.default, p.description, params)
            for p in info.params
        ]
    else:
        parameters = [_parameter(k, "Any", True, None, None, params) for k in params]
    category = category_of(op)
    is_trigger = key == TRIGGER
    position = {"x": place[0] * _COLUMN, "y": place[1] * _ROW, "zoom": 0}
    data: dict[str, Any] = {
        "id": metadata_id(op),
        "name": op,
        "label": op,
        "custom_label": key,
        "description": info.summary if info else "",
        "category": category,
        "category_label": category.replace("_", " ").title(),
        "flow_type": "operator",
        "operator_type": "input" if is_trigger else "map",
        "inputs": [] if is_trigger else [_io("input", takes, i) for i in range(max(inputs, 1))],
        "outputs": [_io("output", gives, 0)],
        "parameters": parameters,
        "version": "v1",
        "type_name": op,
        "type_cls": (info.path if info else None) or op,
        "tags": {},
        "icon": None,
        "documentation_url": None,
        # Ours, beside DB-GPT's fields: the node's retry and timeout keys.
        **policy,
    }
    return {
        "id": node_id,
        "width": 320,
        "height": 120 + 40 * len(parameters),
        "position": position,
        "position_absolute": dict(position),
        "type": "customNode",
        "data": data,
    }


def _io(kind: str, type_name: str, i: int) -> dict[str, Any]:
    return {
        "type_name": type_name,
        "type_cls": type_name,
        "label": f"{kind.title()} {i}" if i else kind.title(),
        "name": f"{kind}_{i}",
        "description": "",
        "is_list": False,
        "dynamic": False,
        "dynamic_minimum": 0,
        "mappers": None,
    }


def _parameter(
    name: str,
    type_name: str,
    optional: bool,
    default: Any,
    description: str | None,
    values: dict[str, Any],
) -> dict[str, Any]:
    return {
        "label": name,
        "name": name,
        "type_name": type_name,
        "type_cls": type_name,
        "category": "common",
        "resource_type": "instance",
        "optional": optional,
        "default": scalar(default),
        "placeholder": None,
        "description": description,
        "options": None,
        "value": values.get(name),
        "is_list": False,
        "dynamic": False,
        "alias": None,
        "ui": None,
    }


# --- back: flow_data to YAML -------------------------------------------------------------------


def yaml_of_flow_data(flow_data: dict[str, Any], *, name: str, description: str | None) -> str:
    """The YAML of a flow drawn as DB-GPT's ``flow_data``; :class:`FlowUnmappable` names
    the first node or edge that has no awel counterpart."""
    raw_nodes = flow_data.get("nodes")
    raw_edges = flow_data.get("edges") or []
    if not isinstance(raw_nodes, list) or not isinstance(raw_edges, list):
        raise FlowUnmappable("flow_data needs 'nodes' and 'edges' lists", param="flow_data")
    keys: dict[str, str] = {}
    trigger: dict[str, Any] | None = None
    nodes: dict[str, dict[str, Any]] = {}
    for i, node in enumerate(raw_nodes):
        where = f"flow_data.nodes[{i}]"
        if not isinstance(node, dict) or not isinstance(node.get("id"), str):
            raise FlowUnmappable(f"{where}: a node needs an 'id'", param=where)
        raw = node.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        op = _our_op(data, where, node["id"])
        params = _params(data, where)
        if issubclass(registry.resolve(op), TriggerOperator):
            if trigger is not None:
                raise FlowUnmappable(f"{where}: a flow has one trigger", param=where)
            trigger = {"op": op, "params": params} if params or op != PLAIN_TRIGGER else {}
            keys[node["id"]] = TRIGGER
            continue
        key = _key(data.get("custom_label"), op, set(nodes) | {TRIGGER})
        spec: dict[str, Any] = {"op": op}
        if params:
            spec["params"] = params
        for extra in ("retries", "timeout_s"):
            if data.get(extra) is not None:
                spec[extra] = data[extra]
        nodes[key] = spec
        keys[node["id"]] = key
    links: list[tuple[str, int, str]] = []
    for i, edge in enumerate(raw_edges):
        where = f"flow_data.edges[{i}]"
        if not isinstance(edge, dict):
            raise FlowUnmappable(f"{where}: an edge is an object", param=where)
        source, target = keys.get(str(edge.get("source"))), keys.get(str(edge.get("target")))
        if source is None or target is None:
            missing = edge.get("source") if source is None else edge.get("target")
            raise FlowUnmappable(f"{where}: no node with id '{missing}'", param=where)
        if "|parameters|" in str(edge.get("target_handle") or ""):
            raise FlowUnmappable(f"{where}: a resource link has no awel counterpart", param=where)
        order = edge.get("target_order")
        if not isinstance(order, int):
            handle = str(edge.get("target_handle") or "")
            tail = handle.rpartition("|")[2]
            order = int(tail) if tail.isdigit() else 0
        links.append((target, order, source))
    out: dict[str, Any] = {"name": name}
    if description:
        out["description"] = description
    if trigger is not None:
        out["trigger"] = trigger
    out["nodes"] = nodes
    # A target's inputs in their order: the upstream order is a join's argument order.
    out["edges"] = [f"{s} >> {t}" for t, _, s in sorted(links, key=lambda x: (x[0], x[1]))]
    return yaml.safe_dump(out, sort_keys=False, allow_unicode=True)


def _our_op(data: dict[str, Any], where: str, node_id: str) -> str:
    if data.get("flow_type") == "resource":
        what = data.get("type_cls") or data.get("name") or node_id
        raise FlowUnmappable(
            f"{where} ({node_id}): DB-GPT's resource '{what}' has no awel counterpart",
            param=where,
        )
    for candidate in (data.get("name"), data.get("type_name")):
        # Registered names only: an import path here would import whatever it names.
        if isinstance(candidate, str) and candidate in registry.names():
            return candidate
    what = data.get("type_cls") or data.get("type_name") or data.get("name") or "?"
    raise FlowUnmappable(
        f"{where} ({node_id}): DB-GPT's operator '{what}' has no awel counterpart; use one of"
        " ours (GET /nodes lists them)",
        param=where,
    )


def _params(data: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    given = data.get("parameters") or []
    if not isinstance(given, list):
        raise FlowUnmappable(f"{where}.data.parameters: a list of parameters", param=where)
    for i, p in enumerate(given):
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            raise FlowUnmappable(f"{where}.data.parameters[{i}]: needs a 'name'", param=where)
        if p.get("category") == "resource":
            raise FlowUnmappable(
                f"{where}: parameter '{p['name']}' is a DB-GPT resource; awel has none",
                param=where,
            )
        if p.get("value") is not None:
            out[p["name"]] = p["value"]
    return out


def _key(label: Any, op: str, taken: set[str]) -> str:
    """The YAML name of a node: its custom label when that is a valid, free node name."""
    if isinstance(label, str) and _NODE_KEY.match(label) and label not in taken:
        return label
    base = re.sub(r"\W", "_", op.rpartition(".")[2]) or "node"
    if not re.match(r"[A-Za-z_]", base):
        base = "n_" + base
    n = 0
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"
