"""Stage 8b: write a network (from ``coding.network``) as GraphML, GEXF, node-link JSON, a PNG
figure, an offline interactive HTML page and a text summary.

Renderers take the graph (and a layout) and return text or bytes; :func:`write_network` writes
them atomically into a folder. They never compute anything the network stage did not, except the
layout, which is drawing.

- GraphML and GEXF keep every scalar node and edge attribute (``weight`` is the edge weight
  Gephi uses, ``label`` the node label) and are written as Gephi's importers read them without
  an issue (:func:`graphml_bytes`, :func:`gexf_bytes`): codebook links directed, booleans as
  ``true``/``false``, no graph-level attributes (the title is a description); the quote lists
  (``quotes``) live only in the JSON and the HTML. GEXF also carries the figure's colours, sizes,
  positions, line widths and dashes (``viz``) so Gephi opens it as drawn. Text passes
  :func:`coding.xmltext.to_xml`, so both are well-formed whatever the notes hold.
- The PNG uses the IPAex Gothic font that the ``matplotlib-fontja`` package ships, so Japanese
  labels render on any machine.
- The HTML page inlines vis-network's standalone build (``coding/data/vendor``, vis-network
  10.1.5 from the npm registry, Apache-2.0 OR MIT): it loads nothing from the network.
"""
from __future__ import annotations

import html
import io
import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import networkx as nx

from .files import atomic_write_bytes, atomic_write_text
from .network import summarise
from .xmltext import to_xml, xml_bytes

FORMATS = ("graphml", "gexf", "json", "png", "html", "txt")
DATA = Path(__file__).with_name("data")
VIS_JS = DATA / "vendor" / "vis-network.min.js"
TEMPLATE = DATA / "network.html"
DRAFT = "下書き（未レビューの提案を含む） / DRAFT: includes unreviewed suggestions"

# Okabe–Ito colours: distinguishable with colour-vision deficiencies, and in greyscale print.
KIND_COLOURS = {
    "challenge": "#D55E00", "practice": "#0072B2", "case": "#009E73", "organisation": "#999999",
    "phase": "#CC79A7", "theme": "#E69F00", "finding": "#56B4E9",
}
KIND_NAMES = {
    "challenge": "課題", "practice": "プラクティス", "case": "事例", "organisation": "組織",
    "phase": "フェーズ", "theme": "テーマ", "finding": "所見",
}
COMMUNITY_COLOURS = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
                     "#8DD3C7", "#BEBADA", "#FB8072", "#80B1D3", "#FDB462", "#B3DE69", "#FCCDE5"]
EDGE_STYLE = {  # kind → (colour, dashed)
    "evidence": ("#555555", False),
    "declared+evidence": ("#1F4E79", False),
    "declared": ("#9A9A9A", True),
    "coded": ("#C8C8C8", False),
}
EDGE_NAMES = {"evidence": "共起（根拠）", "declared+evidence": "コードブックの対応＋共起", "declared": "コードブックの対応のみ",
              "coded": "組織のコーディング"}
WINDOW_NAMES = {"segment": "文", "paragraph": "段落", "interview": "インタビュー"}
FONT_STACK = "'Noto Sans CJK JP','Hiragino Kaku Gothic ProN','Hiragino Sans','Yu Gothic','Meiryo','IPAexGothic',sans-serif"


# ---------------------------------------------------------------- shared bits
def stem(G: nx.Graph) -> str:
    """File stem of a network: ``challenge-practice`` or ``cooccurrence``."""
    return str(G.graph.get("network") or "network")


def colour(G: nx.Graph, n: Any) -> str:
    """A node's colour: by kind, or by community in a co-occurrence network (KH Coder's way)."""
    d = G.nodes[n]
    if G.graph.get("network") == "cooccurrence" and "community" in d:
        return COMMUNITY_COLOURS[d["community"] % len(COMMUNITY_COLOURS)]
    return KIND_COLOURS.get(d.get("kind", ""), "#777777")


def display(G: nx.Graph, n: Any, width: int | None = None) -> str:
    """The text a drawing shows for a node: ref and label (wrapped at ``width`` characters)."""
    d = G.nodes[n]
    ref, label = str(d.get("ref") or n), str(d.get("label") or "")
    if d.get("kind") == "organisation":  # names repeat across regions (C大学 in Japan and in the US)
        text = f"{label}（{d['region']}）" if d.get("region") else label
    elif label and label != ref:
        text = f"{ref} {label}"
    else:
        text = ref
    if d.get("latent"):
        text = "（潜在）" + text
    return wrap_ja(text, width) if width else text


_NO_START = set("、。，．・）」』】〕ー～！？!?)]:：")  # never at the start of a line (kinsoku)
_NO_END = set("（「『【〔([")  # never at the end of a line
_BREAK_AFTER = set(" 　、・）」』】〕")


def wrap_ja(text: str, width: int) -> str:
    """Wrap Japanese text at ``width`` characters, preferring to break after a space, 、, ・ or a
    closing bracket, or before an opening one (looking back up to 40% of the line); otherwise
    never before 、 or ） and never after （."""
    lines: list[str] = []
    rest = text.strip()
    while len(rest) > width:
        cut = width
        for i in range(width, max(width - 2 * width // 5, 1) - 1, -1):
            if rest[i - 1] in _BREAK_AFTER or rest[i] in _NO_END:
                cut = i
                break
        else:
            while cut > 1 and (rest[cut] in _NO_START or rest[cut - 1] in _NO_END):
                cut -= 1
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    lines.append(rest)
    return "\n".join(line for line in lines if line)


def line_scale(G: nx.Graph) -> tuple[float, float, float]:
    """The largest evidence weight, declared-only weight and Jaccard of G's edges: evidence and
    declared-only links are scaled apart (windows and organisations are different units)."""
    wmax = max([d.get("weight", 1.0) for _, _, d in G.edges(data=True) if d.get("evidence")] + [1.0])
    smax = max([d.get("weight", 1.0) for _, _, d in G.edges(data=True) if not d.get("evidence")] + [1.0])
    jmax = max([d.get("jaccard", 0.0) for _, _, d in G.edges(data=True)] + [1e-9])
    return wmax, smax, jmax


def line_width(G: nx.Graph, d: Mapping[str, Any], scale: tuple[float, float, float]) -> float:
    """An edge's line width in the figure (points) and the GEXF: by Jaccard in a co-occurrence
    network, else by weight."""
    wmax, smax, jmax = scale
    if G.graph.get("network") == "cooccurrence":
        return 0.6 + 5.0 * d.get("jaccard", 0.0) / jmax
    if d.get("evidence"):
        return 0.6 + 4.4 * d.get("weight", 1.0) / wmax
    return 0.6 + 2.4 * d.get("weight", 1.0) / smax


def title(G: nx.Graph) -> str:
    w = WINDOW_NAMES.get(G.graph.get("window", ""), G.graph.get("window", ""))
    if G.graph.get("network") == "cooccurrence":
        return f"コードの共起ネットワーク（{G.graph.get('families', '')}、共起の単位：{w}）"
    return f"課題–プラクティス–事例ネットワーク（共起の単位：{w}）"


def _scalar(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool)) and not (isinstance(v, float) and math.isnan(v))


def scalar_graph(G: nx.Graph) -> nx.Graph:
    """A copy holding only the attributes GraphML/GEXF can store (lists such as ``quotes`` go)."""
    H = nx.Graph()
    H.graph.update({k: v for k, v in G.graph.items() if _scalar(v)})
    for n, d in G.nodes(data=True):
        H.add_node(n, **{k: v for k, v in d.items() if _scalar(v)})
    for u, v, d in G.edges(data=True):
        H.add_edge(u, v, **{k: val for k, val in d.items() if _scalar(val)})
    return H


def guarded(G: nx.Graph, transform: Callable[[str], str]) -> nx.Graph:
    """A copy of G with ``transform`` (e.g. the anonymity guard's ``apply``) applied to every
    string it carries — labels, notes, quotes — so that no format publishes what it masks."""

    def fix(v: Any) -> Any:
        if isinstance(v, str):
            return transform(v)
        if isinstance(v, list):
            return [fix(x) for x in v]
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        return v

    H = nx.Graph()
    H.graph.update({k: fix(v) for k, v in G.graph.items()})
    for n, d in G.nodes(data=True):
        H.add_node(n, **{k: fix(v) for k, v in d.items()})
    for u, v, d in G.edges(data=True):
        H.add_edge(u, v, **{k: fix(x) for k, x in d.items()})
    return H


# ---------------------------------------------------------------- layout
def layout(G: nx.Graph, *, seed: int = 1) -> dict[Any, tuple[float, float]]:
    """Positions in [0, 1]² (y grows downwards). The challenge–practice network without
    organisations is drawn in columns like 図表35 (challenges | practices | cases); anything else
    with Kamada–Kawai (connected) or a seeded spring layout."""
    if not len(G):
        return {}
    kinds = {d.get("kind") for _, d in G.nodes(data=True)}
    if G.graph.get("network") == "challenge-practice" and kinds <= {"challenge", "practice", "case"}:
        return layered_layout(G)
    return force_layout(G, seed=seed)


def force_layout(G: nx.Graph, *, seed: int = 1) -> dict[Any, tuple[float, float]]:
    """Kamada–Kawai per connected component (as KH Coder draws), components packed in rows,
    largest first, each given room in proportion to its size."""
    order = {n: i for i, n in enumerate(G)}
    comps = sorted((sorted(c, key=order.get) for c in nx.connected_components(G)), key=lambda c: (-len(c), order[c[0]]))
    placed: list[tuple[list, dict, float]] = []
    for c in comps:
        if len(c) == 1:
            local = {c[0]: (0.0, 0.0)}
        elif len(c) == 2:
            local = {c[0]: (-0.6, 0.0), c[1]: (0.6, 0.0)}
        else:
            # an ordered copy: a subgraph view iterates its node set in hash order, which would
            # make the layout (and the page) differ from one run to the next
            sub = nx.Graph()
            sub.add_nodes_from(c)
            sub.add_edges_from((u, v) for u, v in G.edges(c) if u in sub and v in sub)
            try:
                raw = nx.kamada_kawai_layout(sub, weight=None)
            except Exception:  # degenerate distances: fall back to a seeded spring layout
                raw = nx.spring_layout(sub, seed=seed)
            xs, ys = [p[0] for p in raw.values()], [p[1] for p in raw.values()]
            span = max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0
            cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
            local = {n: (2 * (x - cx) / span, -2 * (y - cy) / span) for n, (x, y) in raw.items()}
        placed.append((c, local, 0.55 * math.sqrt(len(c)) + 0.45))
    total = sum(s * s for _, _, s in placed)
    row_width = max(math.sqrt(total) * 1.35, max(2 * s for _, _, s in placed))
    pos: dict[Any, tuple[float, float]] = {}
    x = y = row_h = 0.0
    for c, local, s in placed:
        if x > 0 and x + 2 * s > row_width:
            x, y, row_h = 0.0, y + row_h, 0.0
        for n, (lx, ly) in local.items():
            pos[n] = (x + s + lx * s * 0.8, y + s + ly * s * 0.8)
        x += 2 * s
        row_h = max(row_h, 2 * s)
    return _normalise(pos)


def _normalise(pos: Mapping[Any, tuple[float, float]]) -> dict[Any, tuple[float, float]]:
    xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
    sx, sy = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    return {n: ((x - min(xs)) / sx if len(pos) > 1 else 0.5, (y - min(ys)) / sy if len(pos) > 1 else 0.5) for n, (x, y) in pos.items()}


def layered_layout(G: nx.Graph) -> dict[Any, tuple[float, float]]:
    """Challenges at x=0, practices at x=0.5, cases at x=1. Cases are listed practice by practice,
    each practice sits level with its cases, and challenges are ordered by the practices they
    are linked to (declared first, else evidence), so that few lines cross."""
    order = {n: i for i, n in enumerate(G)}
    col = {k: [n for n, d in G.nodes(data=True) if d.get("kind") == k] for k in ("challenge", "practice", "case")}
    prank = {p: i for i, p in enumerate(col["practice"])}

    def linked_practices(n: Any, declared: bool) -> list[int]:
        return [prank[m] for m in G[n] if m in prank and bool(G.edges[n, m].get("declared")) == declared]

    def case_key(c: Any) -> tuple:
        ps = linked_practices(c, True) or linked_practices(c, False)
        return (min(ps) if ps else len(prank), order[c])

    cases = sorted(col["case"], key=case_key)
    y: dict[Any, float] = {}
    for i, c in enumerate(cases):
        y[c] = (i + 0.5) / len(cases)
    for i, p in enumerate(col["practice"]):
        mine = [y[c] for c in cases if p in G[c] and G.edges[p, c].get("declared")]
        y[p] = sum(mine) / len(mine) if mine else (i + 0.5) / len(col["practice"])

    def challenge_key(c: Any) -> tuple:
        ps = [p for p in G[c] if p in prank and G.edges[c, p].get("declared")] or [p for p in G[c] if p in prank]
        return (sum(y[p] for p in ps) / len(ps) if ps else 2.0, order[c])

    challenges = sorted(col["challenge"], key=challenge_key)
    for i, c in enumerate(challenges):
        y[c] = (i + 0.5) / len(challenges)
    x = {"challenge": 0.0, "practice": 0.5, "case": 1.0}
    return {n: (x[G.nodes[n]["kind"]], y[n]) for n in G}


# ---------------------------------------------------------------- GraphML / GEXF / JSON
GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"
GEXF_NS = "http://www.gexf.net/1.2draft"
VIZ_NS = "http://www.gexf.net/1.2draft/viz"


def _types(records: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Attribute name → its type over all records (first-seen order): boolean, int, double or string."""
    seen: dict[str, set] = {}
    for d in records:
        for k, v in d.items():
            seen.setdefault(k, set()).add(bool if isinstance(v, bool) else int if isinstance(v, int)
                                          else float if isinstance(v, float) else str)
    return {k: "boolean" if ts == {bool} else "int" if ts == {int} else "double" if ts <= {int, float} else "string"
            for k, ts in seen.items()}


def _text(v: Any, kind: str = "") -> str:
    """An attribute value as XML Schema writes it: true/false, 2.0, text safe for XML 1.0."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if kind == "double":
        return repr(float(v))
    return to_xml(str(v))


def oriented(u: Any, v: Any, d: Mapping[str, Any]) -> tuple[Any, Any, bool]:
    """An edge as written: a codebook link (challenge → practice, practice → case) from its source
    to its target and directed; any other edge as it is, undirected."""
    if d.get("declared") and d.get("direction"):
        src, _, dst = str(d["direction"]).partition("→")
        if (str(u), str(v)) == (dst, src):
            return v, u, True
        if (str(u), str(v)) == (src, dst):
            return u, v, True
    return u, v, False


def _about(G: nx.Graph) -> str:
    return title(G) + ("\n" + DRAFT if G.graph.get("draft") else "")


def graphml_bytes(G: nx.Graph) -> bytes:
    """GraphML with every scalar node and edge attribute, as Gephi imports it without an issue:
    no graph-level keys (Gephi refuses them; the title goes in ``desc``), key ids that are none of
    the names Gephi reads as properties (``d3`` would become the label), booleans as XML Schema
    writes them, and codebook links as directed edges (``directed="true"``) from challenge to
    practice and practice to case in an undirected graph. ``label`` and ``weight`` are the label
    and the weight Gephi uses."""
    H = scalar_graph(G)
    ntypes, etypes = _types(d for _, d in H.nodes(data=True)), _types(d for _, _, d in H.edges(data=True))
    ET.register_namespace("", GRAPHML_NS)

    def q(tag: str) -> str:
        return f"{{{GRAPHML_NS}}}{tag}"

    root = ET.Element(q("graphml"))
    keys: dict[tuple[str, str], str] = {}
    for where, types, prefix in (("node", ntypes, "nk"), ("edge", etypes, "ek")):
        for i, (name, kind) in enumerate(types.items()):
            keys[(where, name)] = f"{prefix}{i}"
            ET.SubElement(root, q("key"), {"id": f"{prefix}{i}", "for": where, "attr.name": to_xml(name), "attr.type": kind})
    graph = ET.SubElement(root, q("graph"), {"id": to_xml(stem(G)), "edgedefault": "undirected"})
    ET.SubElement(graph, q("desc")).text = to_xml(_about(G))
    for n, d in H.nodes(data=True):
        el = ET.SubElement(graph, q("node"), {"id": to_xml(str(n))})
        for k, v in d.items():
            ET.SubElement(el, q("data"), {"key": keys[("node", k)]}).text = _text(v, ntypes[k])
    for i, (u, v, d) in enumerate(H.edges(data=True)):
        a, b, directed = oriented(u, v, d)
        attrs = {"id": f"e{i}", "source": to_xml(str(a)), "target": to_xml(str(b))}
        if directed:
            attrs["directed"] = "true"
        el = ET.SubElement(graph, q("edge"), attrs)
        for k, val in d.items():
            ET.SubElement(el, q("data"), {"key": keys[("edge", k)]}).text = _text(val, etypes[k])
    ET.indent(root, space="  ")
    return xml_bytes(root) + b"\n"


def _rgba(hex_colour: str) -> dict[str, str]:
    rgb = hex_colour.lstrip("#")
    return {"r": str(int(rgb[0:2], 16)), "g": str(int(rgb[2:4], 16)), "b": str(int(rgb[4:6], 16)), "a": "1.0"}


def gexf_bytes(G: nx.Graph, pos: Mapping[Any, tuple[float, float]] | None = None) -> bytes:
    """GEXF 1.2 as Gephi imports it: every scalar attribute, the figure's colours, sizes and
    positions for nodes, colour, thickness and line style (dashed: a codebook link only) for
    edges, codebook links directed (``type="directed"``) in an undirected graph, booleans as
    XML Schema writes them; the title in ``meta``."""
    H = scalar_graph(G)
    pos = pos if pos is not None else layout(G)
    ntypes = {k: t for k, t in _types(d for _, d in H.nodes(data=True)).items() if k != "label"}
    etypes = {k: t for k, t in _types(d for _, _, d in H.edges(data=True)).items() if k != "weight"}
    gexf_type = {"boolean": "boolean", "int": "integer", "double": "double", "string": "string"}
    ET.register_namespace("", GEXF_NS)
    ET.register_namespace("viz", VIZ_NS)

    def q(tag: str, ns: str = GEXF_NS) -> str:
        return f"{{{ns}}}{tag}"

    root = ET.Element(q("gexf"), {"version": "1.2"})
    meta = ET.SubElement(root, q("meta"))
    ET.SubElement(meta, q("creator")).text = "hearing-survey coding toolkit"
    ET.SubElement(meta, q("description")).text = to_xml(_about(G))
    graph = ET.SubElement(root, q("graph"), {"defaultedgetype": "undirected", "mode": "static"})
    ids: dict[tuple[str, str], str] = {}
    for cls, types in (("node", ntypes), ("edge", etypes)):
        attrs = ET.SubElement(graph, q("attributes"), {"class": cls, "mode": "static"})
        for i, (name, kind) in enumerate(types.items()):
            ids[(cls, name)] = str(i)
            ET.SubElement(attrs, q("attribute"), {"id": str(i), "title": to_xml(name), "type": gexf_type[kind]})
    nodes = ET.SubElement(graph, q("nodes"))
    for n, d in H.nodes(data=True):
        el = ET.SubElement(nodes, q("node"), {"id": to_xml(str(n)), "label": to_xml(str(d.get("label") or n))})
        values = ET.SubElement(el, q("attvalues"))
        for k, v in d.items():
            if k != "label":
                ET.SubElement(values, q("attvalue"), {"for": ids[("node", k)], "value": _text(v, ntypes[k])})
        x, y = pos.get(n, (0.5, 0.5))
        ET.SubElement(el, q("color", VIZ_NS), _rgba(colour(G, n)))
        ET.SubElement(el, q("size", VIZ_NS), {"value": repr(4.0 + 3.0 * math.sqrt(d.get("orgs", 0)))})
        ET.SubElement(el, q("position", VIZ_NS), {"x": repr(round(1000 * x, 2)), "y": repr(round(-800 * y, 2)), "z": "0.0"})
    edges = ET.SubElement(graph, q("edges"))
    scale = line_scale(G)
    for i, (u, v, d) in enumerate(H.edges(data=True)):
        a, b, directed = oriented(u, v, d)
        el = ET.SubElement(edges, q("edge"), {"id": str(i), "source": to_xml(str(a)), "target": to_xml(str(b)),
                                              "type": "directed" if directed else "undirected",
                                              "weight": repr(float(d.get("weight", 1.0)))})
        values = ET.SubElement(el, q("attvalues"))
        for k, val in d.items():
            if k != "weight":
                ET.SubElement(values, q("attvalue"), {"for": ids[("edge", k)], "value": _text(val, etypes[k])})
        hex_colour, dashed = EDGE_STYLE.get(d.get("kind", "evidence"), ("#555555", False))
        ET.SubElement(el, q("color", VIZ_NS), _rgba(hex_colour))
        ET.SubElement(el, q("thickness", VIZ_NS), {"value": repr(round(line_width(G, d, scale), 3))})
        ET.SubElement(el, q("shape", VIZ_NS), {"value": "dashed" if dashed else "solid"})
    ET.indent(root, space="  ")
    return xml_bytes(root) + b"\n"


def node_link(G: nx.Graph, pos: Mapping[Any, tuple[float, float]] | None = None) -> dict[str, Any]:
    """networkx node-link data (``nodes``, ``edges``) with positions and the evidence quotes."""
    data = nx.node_link_data(G, edges="edges")
    if pos:
        for d in data["nodes"]:
            x, y = pos[d["id"]]
            d["x"], d["y"] = round(x, 4), round(y, 4)
    return data


def json_text(G: nx.Graph, pos: Mapping[Any, tuple[float, float]] | None = None) -> str:
    return json.dumps(node_link(G, pos), ensure_ascii=False, indent=1) + "\n"


# ---------------------------------------------------------------- PNG
def png_bytes(G: nx.Graph, pos: Mapping[Any, tuple[float, float]] | None = None, *, dpi: int = 150) -> bytes:
    """A figure for a report: Japanese labels, node area by organisations, line width by weight,
    colours by kind (by community in a co-occurrence network), line style by edge kind, legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (registers IPAex Gothic as the default font)

    # a label is text as written: "$…$" in a code label or quote is not TeX for the figure
    matplotlib.rcParams["text.parse_math"] = False
    from matplotlib.lines import Line2D
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MPath

    pos = dict(pos if pos is not None else layout(G))
    layered = bool(pos) and G.graph.get("network") == "challenge-practice" and {d.get("kind") for _, d in G.nodes(data=True)} <= {"challenge", "practice", "case"}
    cooc = G.graph.get("network") == "cooccurrence"
    n_rows = max([sum(1 for _, d in G.nodes(data=True) if d.get("kind") == k) for k in ("challenge", "case")] + [1])
    if layered:
        fig, ax = plt.subplots(figsize=(17, max(8.0, 0.62 * n_rows + 2.2)))
        ax.set_xlim(-0.66, 1.56)
    else:
        fig, ax = plt.subplots(figsize=(15, 11))
        ax.set_xlim(-0.12, 1.12)
    ax.set_ylim(1.04, -0.06)
    ax.axis("off")
    scale = line_scale(G)

    def size(n: Any) -> float:
        d = G.nodes[n]
        v = d.get("segments", 0) if cooc else d.get("orgs", 0)
        return 90.0 + 110.0 * v

    # edges under nodes: light first
    z = {"coded": 0, "declared": 1, "evidence": 2, "declared+evidence": 3}
    for u, v, d in sorted(G.edges(data=True), key=lambda e: (z.get(e[2].get("kind"), 2), e[2].get("weight", 0))):
        col, dashed = EDGE_STYLE.get(d.get("kind", "evidence"), ("#555555", False))
        lw = line_width(G, d, scale)
        (x1, y1), (x2, y2) = pos[u], pos[v]
        if abs(x1 - x2) < 1e-9 and layered:  # same column: bow into the gap between columns
            bulge = (0.10 + 0.25 * abs(y2 - y1)) * (1 if x1 < 0.75 else -1)
            path = MPath([(x1, y1), (x1 + bulge, (y1 + y2) / 2), (x2, y2)], [MPath.MOVETO, MPath.CURVE3, MPath.CURVE3])
            ax.add_patch(PathPatch(path, fill=False, edgecolor=col, lw=lw, ls="--" if dashed else "-", alpha=0.8, zorder=1))
        else:
            ax.plot([x1, x2], [y1, y2], color=col, lw=lw, ls=(0, (4, 3)) if dashed else "-", alpha=0.8,
                    zorder=1, solid_capstyle="round")
    # nodes
    for n, d in G.nodes(data=True):
        c = colour(G, n)
        hollow = d.get("latent") or (not cooc and not d.get("orgs"))
        ax.scatter([pos[n][0]], [pos[n][1]], s=size(n), c="white" if hollow else c, edgecolors=c if hollow else "white",
                   linewidths=2.2 if hollow else 1.2, zorder=3)
    # labels
    if layered:
        for n, d in G.nodes(data=True):
            x, y = pos[n]
            r = math.sqrt(size(n)) / 2 + 4  # points
            if d["kind"] == "challenge":
                ax.annotate(display(G, n, 21), (x, y), xytext=(-r, 0), textcoords="offset points", ha="right",
                            va="center", fontsize=9.5, zorder=4, linespacing=1.15)
            elif d["kind"] == "case":
                ax.annotate(display(G, n, 22), (x, y), xytext=(r, 0), textcoords="offset points", ha="left",
                            va="center", fontsize=9.5, zorder=4, linespacing=1.15)
            else:
                ax.annotate(display(G, n, 16), (x, y), xytext=(0, r), textcoords="offset points", ha="center",
                            va="bottom", fontsize=10, zorder=5, linespacing=1.15,
                            bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": KIND_COLOURS["practice"], "lw": 0.8, "alpha": 0.92})
        for k, x in (("challenge", 0.0), ("practice", 0.5), ("case", 1.0)):
            ax.text(x, -0.045, KIND_NAMES[k], ha="center", va="bottom", fontsize=12, color=KIND_COLOURS[k])
    else:
        texts = []
        for n, d in G.nodes(data=True):
            x, y = pos[n]
            r = math.sqrt(size(n)) / 2 + 2
            texts.append((n, ax.annotate(display(G, n, 14 if d.get("kind") != "organisation" else 10), (x, y),
                                         xytext=(0, -r), textcoords="offset points", ha="center", va="top",
                                         fontsize=8.5, zorder=4, linespacing=1.1,
                                         bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none", "alpha": 0.8},
                                         arrowprops={"arrowstyle": "-", "color": "#999999", "lw": 0.6, "shrinkA": 0, "shrinkB": r})))
        _spread_labels(fig, ax, [t for _, t in texts])
    # legend
    handles = []
    if cooc:
        comms = sorted({d.get("community", 0) for _, d in G.nodes(data=True)})
        for c in comms[:len(COMMUNITY_COLOURS)]:
            handles.append(Line2D([], [], ls="", marker="o", ms=10, mfc=COMMUNITY_COLOURS[c % len(COMMUNITY_COLOURS)], mec="white",
                                  label=f"コミュニティ {c + 1}"))
        handles.append(Line2D([], [], color="#555555", lw=3, label="線の太さ：Jaccard 係数"))
        size_label = "コーディング数"
    else:
        present = [k for k in KIND_COLOURS if any(d.get("kind") == k for _, d in G.nodes(data=True))]
        for k in present:
            handles.append(Line2D([], [], ls="", marker="o", ms=10, mfc=KIND_COLOURS[k], mec="white", label=KIND_NAMES[k]))
        if any(d.get("latent") for _, d in G.nodes(data=True)):
            handles.append(Line2D([], [], ls="", marker="o", ms=10, mfc="white", mec=KIND_COLOURS["challenge"], mew=2,
                                  label="潜在的な課題／言及なし（白抜き）"))
        for k in ("declared+evidence", "evidence", "declared", "coded"):
            if any(d.get("kind") == k for _, _, d in G.edges(data=True)):
                col, dashed = EDGE_STYLE[k]
                handles.append(Line2D([], [], color=col, lw=2.5, ls=(0, (4, 3)) if dashed else "-", label=EDGE_NAMES[k]))
        size_label = "組織数"
    for v in (1, 5, 10):
        # marker size in points = the scatter's sqrt(area): the legend shows the drawing's scale
        handles.append(Line2D([], [], ls="", marker="o", ms=math.sqrt(90.0 + 110.0 * v), mfc="#DDDDDD", mec="#999999",
                              label=f"{size_label} {v}"))
    # one band under the drawing, so the legend never covers a node or a label
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.005), fontsize=9.5, frameon=False,
               ncol=min(len(handles), 7), columnspacing=1.8, handletextpad=0.5, borderaxespad=0.2, handlelength=3.8,
               labelspacing=1.2)
    w = WINDOW_NAMES.get(G.graph.get("window", ""), "")
    sub = (f"ノード：{len(G)}　線：{G.number_of_edges()}　大きさ＝{size_label}　線の太さ＝"
           + ("Jaccard 係数" if cooc else f"共起した{w}の数（破線：課題を挙げた／事例の組織数）"))
    fig.suptitle(title(G), fontsize=15, y=0.995)
    fig.text(0.5, 0.955, sub, ha="center", fontsize=10, color="#444444")
    if G.graph.get("draft"):
        fig.text(0.99, 0.995, DRAFT, ha="right", va="top", fontsize=11, color="#C00000")
    rows = math.ceil(len(handles) / 7)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.93, bottom=(0.035 + 0.03 * rows) * 11 / fig.get_figheight())
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    plt.close(fig)
    return buf.getvalue()


def _spread_labels(fig, ax, texts: Sequence[Any], *, rounds: int = 300) -> None:
    """Nudge overlapping annotation labels apart (in display space), a few pixels at a time."""
    if len(texts) < 2:
        return
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    offsets = [list(t.xyann) for t in texts]
    base = [0.0, max(abs(o[1]) for o in offsets)]
    limit = 42.0  # points
    for _ in range(rounds):
        boxes = [t.get_window_extent(renderer).expanded(1.04, 1.12) for t in texts]
        moved = False
        for i in range(len(texts)):
            for j in range(i + 1, len(texts)):
                a, b = boxes[i], boxes[j]
                dx = min(a.x1, b.x1) - max(a.x0, b.x0)
                dy = min(a.y1, b.y1) - max(a.y0, b.y0)
                if dx <= 0 or dy <= 0:
                    continue
                moved = True
                # push along the axis with the smaller overlap (points ≈ pixels * 72 / dpi)
                k = 72.0 / fig.dpi
                if dy * 1.5 < dx:
                    s = (dy / 2 + 1) * k * (1 if a.y0 + a.y1 >= b.y0 + b.y1 else -1)
                    offsets[i][1] += s
                    offsets[j][1] -= s
                else:
                    s = (dx / 2 + 1) * k * (1 if a.x0 + a.x1 >= b.x0 + b.x1 else -1)
                    offsets[i][0] += s
                    offsets[j][0] -= s
                for o in (offsets[i], offsets[j]):  # stay near the node: a label far away reads as another's
                    o[0] = min(max(o[0], -limit), limit)
                    o[1] = min(max(o[1], -limit - base[1]), limit)
                texts[i].xyann, texts[j].xyann = tuple(offsets[i]), tuple(offsets[j])
                boxes[i] = texts[i].get_window_extent(renderer).expanded(1.04, 1.12)
                boxes[j] = texts[j].get_window_extent(renderer).expanded(1.04, 1.12)
        if not moved:
            break


# ---------------------------------------------------------------- HTML
def html_data(G: nx.Graph, pos: Mapping[Any, tuple[float, float]] | None = None) -> dict[str, Any]:
    """What the page draws: nodes and edges with positions, colours, counts and evidence."""
    pos = pos if pos is not None else layout(G)
    layered = G.graph.get("network") == "challenge-practice" and {d.get("kind") for _, d in G.nodes(data=True)} <= {"challenge", "practice", "case"}
    # room for two-line labels under each node (vis-network draws a dot's label below it)
    rows = max([sum(1 for _, d in G.nodes(data=True) if d.get("kind") == k) for k in ("challenge", "case")] + [1])
    if layered:
        W, H = 2000.0, max(700.0, 100.0 * rows)
    else:
        W = 900.0 + 110.0 * math.sqrt(len(G))
        H = 0.72 * W
    regions = [r for r in str(G.graph.get("regions", "")).split(",") if r]
    ids = {n: i for i, n in enumerate(G)}
    edge_kinds = {d.get("kind") for _, _, d in G.edges(data=True)}
    if any(d.get("declared") for _, _, d in G.edges(data=True)):
        edge_kinds.add("declared")  # under a region filter a declared+evidence link may lose its evidence
    nodes = []
    for n, d in G.nodes(data=True):
        x, y = pos.get(n, (0.5, 0.5))
        nodes.append({
            "id": ids[n], "key": str(n), "display": display(G, n, 24 if layered else 16), "name": display(G, n),
            "kind": d.get("kind", ""), "kindName": KIND_NAMES.get(d.get("kind", ""), d.get("kind", "")),
            "ref": d.get("ref", ""), "latent": bool(d.get("latent")), "colour": colour(G, n),
            "x": round(x * W, 1), "y": round(y * H, 1),
            "orgs": d.get("orgs", 0), "segments": d.get("segments", 0),
            "byRegion": {r: {"orgs": d.get(f"orgs_{r}", 0), "segments": d.get(f"segments_{r}", 0)} for r in regions},
            "region": d.get("region", ""), "attribution": d.get("attribution", ""),
            "community": d.get("community", 0), "betweenness": d.get("betweenness", 0.0), "strength": d.get("strength", 0.0),
            "evidence": d.get("quotes", []),
        })
    edges = []
    for i, (u, v, d) in enumerate(G.edges(data=True)):
        a, b = u, v
        if d.get("direction"):
            src = d["direction"].split("→")[0]
            a, b = (u, v) if str(u) == src else (v, u)
        curve = ""
        if layered and abs(pos[a][0] - pos[b][0]) < 1e-9:  # same column: bow into the gap between columns
            if pos[a][1] > pos[b][1]:
                a, b = b, a
            curve = "curvedCW" if pos[a][0] < 0.75 else "curvedCCW"
        edges.append({
            "id": i, "from": ids[a], "to": ids[b], "curve": curve, "kind": d.get("kind", "evidence"), "declared": bool(d.get("declared")),
            "evidence": bool(d.get("evidence")), "relation": d.get("relation", ""), "direction": d.get("direction", ""),
            "weight": d.get("weight", 1.0), "windows": d.get("windows", 0), "orgs": d.get("orgs", 0),
            "jaccard": d.get("jaccard", 0.0), "support": d.get("support", 0),
            "byRegion": {r: {"windows": d.get(f"windows_{r}", 0), "orgs": d.get(f"orgs_{r}", 0)} for r in regions},
            "attribution": d.get("attribution", ""), "evidenceItems": d.get("quotes", []),
        })
    return {
        "title": title(G), "draft": bool(G.graph.get("draft")), "network": G.graph.get("network", ""),
        "window": G.graph.get("window", ""), "windowName": WINDOW_NAMES.get(G.graph.get("window", ""), ""),
        "weightBy": G.graph.get("weight_by", "windows"), "regions": regions,
        "edgeKinds": [{"kind": k, "name": EDGE_NAMES[k], "colour": EDGE_STYLE[k][0], "dashed": EDGE_STYLE[k][1]}
                      for k in EDGE_NAMES if k in edge_kinds],
        "nodeKinds": [{"kind": k, "name": KIND_NAMES[k], "colour": KIND_COLOURS[k]}
                      for k in KIND_COLOURS if any(d.get("kind") == k for _, d in G.nodes(data=True))],
        "byCommunity": G.graph.get("network") == "cooccurrence",
        "fonts": FONT_STACK, "nodes": nodes, "edges": edges,
    }


def html_text(G: nx.Graph, pos: Mapping[Any, tuple[float, float]] | None = None) -> str:
    """A self-contained page (vis-network inlined, no external URL loaded): drag, zoom, hover or
    click a node or an edge for its quotes with attribution notes, filter by region and edge kind."""
    data = json.dumps(html_data(G, pos), ensure_ascii=False)
    # inside <script>, "</script" or "<!--" in a quote could end or comment out the element: the
    # JSON escapes \u003c and \u003e are the same characters to the parser and never markup
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    parts = {"__TITLE__": html.escape(title(G)), "/*__VIS_NETWORK__*/": VIS_JS.read_text(encoding="utf-8"), "__DATA__": data}
    # one pass, so that nothing inserted is itself searched for placeholders
    return re.sub("|".join(re.escape(k) for k in parts), lambda m: parts[m.group(0)], TEMPLATE.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- files
def write_network(G: nx.Graph, out_dir: Path | str, formats: Iterable[str] | None = None, *,
                  summary: str | None = None) -> list[Path]:
    """Write the network in each of ``formats`` (default: all) as ``<out_dir>/<stem>.<ext>``;
    ``txt`` is the ``summary`` text. Returns the paths written."""
    out = Path(out_dir)
    formats = list(formats or FORMATS)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown network format(s) {', '.join(unknown)} (choose from {', '.join(FORMATS)})")
    pos = layout(G)
    base = out / stem(G)
    written = []
    for f in formats:
        path = base.with_suffix("." + f)
        if f == "graphml":
            atomic_write_bytes(path, graphml_bytes(G))
        elif f == "gexf":
            atomic_write_bytes(path, gexf_bytes(G, pos))
        elif f == "json":
            atomic_write_text(path, json_text(G, pos))
        elif f == "png":
            atomic_write_bytes(path, png_bytes(G, pos))
        elif f == "html":
            atomic_write_text(path, html_text(G, pos))
        elif f == "txt":
            if summary is None:
                summary = summarise(G)
            atomic_write_text(path, summary)
        written.append(path)
    return written
