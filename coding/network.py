"""Stage 7: networks from codings — pure functions returning networkx graphs, no IO.

Two networks, both built from a :class:`~coding.aggregate.Corpus` (transcripts in transcript
order, the codebook, the confirmed codings):

- :func:`challenge_practice_network`: every challenge, practice and case of the codebook (and,
  optionally, every organisation) as a node; **evidence** edges where two codes are coded in the
  same window, and **declared** edges for the links the codebook states (challenge → practice
  through the practice's ``answers``, practice → case through its ``cases``).
- :func:`cooccurrence_network`: KH Coder's code co-occurrence network over any code families
  (``theme`` = themes and findings, ``phase``, ``challenge``, ...), filtered by a minimum weight
  and/or the top N edges by Jaccard.

A **window** is the unit within which two codes co-occur: ``segment`` (a sentence of the
rule-based splitter), ``paragraph`` (the default: an answer is one paragraph in these notes, so a
paragraph is one thought of the interviewee) or ``interview`` (the whole transcript). A coding
that spans several sentences or paragraphs lies in each of them.

Node attributes: ``ref``, ``kind``, ``label``, ``latent``, ``segments`` (coded spans), ``orgs``
(organisations), ``windows``, and per region ``segments_<region>`` / ``orgs_<region>``; ``org_ids``
(space-separated transcript ids), ``attribution`` (the short attribution note of those
organisations), ``quotes`` (the codings behind the node as dicts: transcript_id, org, region,
note = the long attribution note, code_id, text, start, end; dropped by the GraphML/GEXF writers).

Edge attributes: ``kind`` (``evidence``, ``declared``, ``declared+evidence``, or ``coded`` for an
organisation–code edge), booleans ``declared`` and ``evidence``, ``pair`` (e.g.
``challenge-practice``), ``windows`` (windows holding both ends), ``orgs`` (distinct
organisations among them), per region ``windows_<region>`` / ``orgs_<region>``, ``jaccard``
(windows with both / windows with either, as KH Coder computes it), ``relation`` and ``direction``
for a declared link, ``support`` (organisations behind a declared link, counted as 図表35 counts
them: those that raised the challenge; those whose case it is), and ``weight`` — the one Gephi
uses: the evidence weight (``windows`` or ``orgs``, see ``weight_by``) or, for a declared link
without evidence, its support (at least 1, so that layouts keep the link); ``org_ids``,
``attribution`` and ``quotes`` (the codings of both ends in the shared windows, each with its
``window``, e.g. ``JP-A ¶3``).

:func:`analyse` adds ``community`` and centralities; :func:`summarise` writes a short text.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping, Sequence

import networkx as nx

from .aggregate import Corpus
from .store import Coding
from .transcripts import Transcript

Window = Literal["segment", "paragraph", "interview"]
WeightBy = Literal["windows", "orgs"]
WINDOWS: tuple[str, ...] = ("segment", "paragraph", "interview")
NETWORK_KINDS: tuple[str, ...] = ("challenge-practice", "cooccurrence")
FAMILIES: tuple[str, ...] = ("phase", "theme", "challenge", "practice", "case")
ORG = "organisation"
KIND_ORDER = ("challenge", "practice", "case", "phase", "theme", "finding", ORG)
JA_WINDOW = {"segment": "文", "paragraph": "段落", "interview": "インタビュー"}
WKey = tuple  # (transcript_id, kind letter, index)


# ---------------------------------------------------------------- windows
@dataclass(frozen=True)
class Occurrences:
    """Where each code occurs: ``by_code[code_id][window key]`` → its codings in that window."""

    window: str
    by_code: Mapping[str, Mapping[WKey, Sequence[Coding]]]

    def windows_of(self, code_id: str) -> set[WKey]:
        return set(self.by_code.get(code_id, {}))


def window_keys(c: Coding, t: Transcript, window: str, _segs: dict | None = None) -> list[WKey]:
    """The windows a coding lies in (a span across sentences or paragraphs lies in each)."""
    if window == "interview":
        return [(t.id, "i", 0)]

    def overlaps(a: int, b: int) -> bool:
        return (a < c.end and c.start < b) if c.end > c.start else a <= c.start < max(b, a + 1)

    if window == "paragraph":
        keys = [(t.id, "p", p.index) for p in t.paragraphs if overlaps(p.start, p.end)]
        if not keys:  # e.g. a span on a speaker tag: the paragraph it starts in
            p = t.paragraph_at(c.start)
            keys = [(t.id, "p", p.index)] if p else [(t.id, "x", c.start)]
        return keys
    if window == "segment":
        segs = _segs.get(t.id) if _segs is not None else None
        if segs is None:
            segs = t.segments()
            if _segs is not None:
                _segs[t.id] = segs
        starts = [s.start for s in segs]
        i = max(bisect.bisect_right(starts, c.start) - 1, 0)
        keys = []
        while i < len(segs) and segs[i].start < max(c.end, c.start + 1):
            if overlaps(segs[i].start, segs[i].end):
                keys.append((t.id, "s", segs[i].start))
            i += 1
        return keys or [(t.id, "x", c.start)]
    raise ValueError(f"unknown window {window!r} (choose from {', '.join(WINDOWS)})")


def occurrences(corpus: Corpus, window: str = "paragraph", codes: Iterable[str] | None = None) -> Occurrences:
    """Index the corpus's codings (of ``codes``, default all) by code and window."""
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r} (choose from {', '.join(WINDOWS)})")
    wanted = set(codes) if codes is not None else None
    by_id = corpus.by_id
    segs: dict[str, list] = {}
    out: dict[str, dict[WKey, list[Coding]]] = {}
    for c in corpus.codings:
        if (wanted is not None and c.code_id not in wanted) or c.transcript_id not in by_id:
            continue
        for k in window_keys(c, by_id[c.transcript_id], window, segs):
            out.setdefault(c.code_id, {}).setdefault(k, []).append(c)
    return Occurrences(window, out)


# ---------------------------------------------------------------- helpers
def _regions(corpus: Corpus) -> list[str]:
    known = list(corpus.codebook.regions)
    return known + [r for r in dict.fromkeys(t.region for t in corpus.transcripts) if r not in known]


def _pair(a_kind: str, b_kind: str) -> str:
    ka, kb = sorted((a_kind, b_kind), key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER))
    return f"{ka}-{kb}"


class _Ctx:
    """The corpus with its lookups computed once (``Corpus.by_id`` / ``rank`` rebuild per call)."""

    def __init__(self, corpus: Corpus):
        self.corpus = corpus
        self.by_id = corpus.by_id
        self.rank = corpus.rank
        self.regions = _regions(corpus)
        self._notes: dict[str, str] = {}

    def long_note(self, t: Transcript) -> str:
        if t.id not in self._notes:
            self._notes[t.id] = self.corpus.note([t], "long")
        return self._notes[t.id]


def _quote(ctx: _Ctx, c: Coding, window: str = "") -> dict[str, Any]:
    t = ctx.by_id[c.transcript_id]
    q = {"transcript_id": t.id, "org": t.org, "region": t.region, "note": ctx.long_note(t), "code_id": c.code_id,
         "text": c.text, "start": c.start, "end": c.end}
    if window:
        q["window"] = window
    return q


def _wlabel(k: WKey) -> str:
    tid, kind, idx = k
    return {"p": f"{tid} ¶{idx + 1}", "s": f"{tid} @{idx}", "i": tid}.get(kind, f"{tid} @{idx}")


def _code_node(ctx: _Ctx, occ: Occurrences, code_id: str) -> dict[str, Any]:
    corpus, by_id, rank, regions = ctx.corpus, ctx.by_id, ctx.rank, ctx.regions
    cb = corpus.codebook
    code = cb[code_id]
    codings = sorted({c.key: c for ws in occ.by_code.get(code_id, {}).values() for c in ws}.values(),
                     key=lambda c: (rank.get(c.transcript_id, 10**9), c.start, c.end))
    orgs = [by_id[i] for i in dict.fromkeys(c.transcript_id for c in codings)]
    attrs: dict[str, Any] = {
        "ref": cb.effective_ref(code_id) or code_id,
        "kind": code.kind,
        "label": code.label,
        "latent": bool(code.get("latent")),
        "segments": len({c.segment for c in codings}),
        "orgs": len(orgs),
        "windows": len(occ.by_code.get(code_id, {})),
    }
    for r in regions:
        attrs[f"segments_{r}"] = len({c.segment for c in codings if by_id[c.transcript_id].region == r})
        attrs[f"orgs_{r}"] = sum(1 for t in orgs if t.region == r)
    attrs["org_ids"] = " ".join(t.id for t in orgs)
    attrs["attribution"] = corpus.note(orgs, "short") if orgs else ""
    attrs["quotes"] = [_quote(ctx, c) for c in codings]
    return attrs


def _evidence_edges(ctx, occ, codes: Sequence[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Evidence edges between every pair of ``codes`` that share a window, in code order."""
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    for i, a in enumerate(codes):
        for b in codes[i + 1:]:
            e = _evidence_edge(ctx, occ, a, b)
            if e is not None:
                edges[(a, b)] = e
    return edges


def _evidence_edge(ctx: _Ctx, occ: Occurrences, a: str, b: str) -> dict[str, Any] | None:
    wa, wb = occ.by_code.get(a, {}), occ.by_code.get(b, {})
    shared = [k for k in wa if k in wb]
    if not shared:
        return None
    by_id, rank, regions = ctx.by_id, ctx.rank, ctx.regions
    shared.sort(key=lambda k: (rank.get(k[0], 10**9), k[1], k[2]))
    orgs = list(dict.fromkeys(k[0] for k in shared))
    attrs: dict[str, Any] = {
        "windows": len(shared),
        "orgs": len(orgs),
        "jaccard": round(len(shared) / len(set(wa) | set(wb)), 4),
    }
    for r in regions:
        attrs[f"windows_{r}"] = sum(1 for k in shared if by_id[k[0]].region == r)
        attrs[f"orgs_{r}"] = sum(1 for o in orgs if by_id[o].region == r)
    attrs["org_ids"] = " ".join(orgs)
    attrs["attribution"] = ctx.corpus.note([by_id[o] for o in orgs], "short")
    ev = []
    for k in shared:
        cs = sorted({c.key: c for c in list(wa[k]) + list(wb[k])}.values(), key=lambda c: (c.start, c.end, c.code_id))
        ev.extend(_quote(ctx, c, _wlabel(k)) for c in cs)
    attrs["quotes"] = ev
    return attrs


def _empty_edge(regions: Sequence[str]) -> dict[str, Any]:
    e: dict[str, Any] = {"windows": 0, "orgs": 0, "jaccard": 0.0}
    for r in regions:
        e[f"windows_{r}"] = 0
        e[f"orgs_{r}"] = 0
    e.update({"org_ids": "", "attribution": "", "quotes": []})
    return e


def _finish_edge(e: dict[str, Any], weight_by: str) -> dict[str, Any]:
    declared, evidence = bool(e.get("declared")), bool(e.get("windows"))
    e["declared"], e["evidence"] = declared, evidence
    e.setdefault("relation", "")
    e.setdefault("direction", "")
    e.setdefault("support", 0)
    if e.get("kind") != "coded":
        e["kind"] = "declared+evidence" if declared and evidence else ("declared" if declared else "evidence")
    e["weight"] = float(e[weight_by] if evidence else max(e["support"], 1))
    return e


def _filter_evidence(edges: dict[tuple[str, str], dict[str, Any]], *, min_weight: float, top_n: int | None,
                     weight_by: str, rank_by: str, regions: Sequence[str]) -> None:
    """Drop evidence below ``min_weight`` and beyond the top ``top_n``; declared links stay."""
    ev = [(k, e) for k, e in edges.items() if e.get("windows") and e.get("kind") != "coded"]
    keep = {k for k, e in ev if e[weight_by] >= min_weight}
    if top_n is not None:
        ranked = sorted((k for k, e in ev if k in keep),
                        key=lambda k: (-edges[k][rank_by], -edges[k]["windows"], -edges[k]["orgs"], k))
        keep = set(ranked[: max(top_n, 0)])
    for k, e in ev:
        if k in keep:
            continue
        if e.get("declared"):
            support, relation, direction = e["support"], e["relation"], e["direction"]
            e.clear()
            e.update(_empty_edge(regions), declared=True, support=support, relation=relation, direction=direction)
        else:
            del edges[k]


def _graph_attrs(corpus: Corpus, kind: str, window: str, weight_by: str, regions: Sequence[str], **extra: Any) -> dict[str, Any]:
    return {"network": kind, "window": window, "weight_by": weight_by, "regions": ",".join(regions),
            "transcripts": len(corpus.transcripts), "codings": len(corpus.codings), **extra}


# ---------------------------------------------------------------- challenge–practice
def challenge_practice_network(
    corpus: Corpus,
    *,
    window: Window = "paragraph",
    include_orgs: bool = False,
    weight_by: WeightBy = "windows",
    min_weight: float = 1,
    top_n: int | None = None,
    draft: bool = False,
) -> nx.Graph:
    """Challenges, practices and cases of the codebook (and organisations) with evidence and
    declared edges; see the module docstring for the attributes.

    Every challenge, practice and case of the codebook is a node, coded or not (a latent
    challenge nobody raised still answers to its practice). ``min_weight``/``top_n`` filter the
    evidence edges only (by ``weight_by`` / by Jaccard); declared links always stay.

    >>> G = challenge_practice_network(Corpus(ts, cb, codings), window="interview")
    >>> G.edges["課題①", "P1"]["kind"]
    'declared+evidence'
    """
    cb = corpus.codebook
    ctx = _Ctx(corpus)
    regions = ctx.regions
    codes = [c.id for c in cb.of_kind("challenge", "practice", "case")]
    occ = occurrences(corpus, window, codes)
    G = nx.Graph(**_graph_attrs(corpus, "challenge-practice", window, weight_by, regions, draft=draft,
                                min_weight=min_weight, top_n=top_n if top_n is not None else -1))
    for cid in codes:
        G.add_node(cid, **_code_node(ctx, occ, cid))
    edges = _evidence_edges(ctx, occ, codes)
    # declared links of the codebook
    pos = {c: i for i, c in enumerate(codes)}

    def declare(u: str, v: str, relation: str, support: Sequence[Transcript]) -> None:
        if u not in pos or v not in pos or u == v:
            return
        key = (u, v) if pos[u] < pos[v] else (v, u)
        e = edges.setdefault(key, _empty_edge(regions))
        e.update(declared=True, relation=relation, direction=f"{u}→{v}", support=len(support))

    for pr in cb.of_kind("practice"):
        for ch in pr.get("answers") or []:
            declare(ch, pr.id, "answers", corpus.orgs_with(ch))
        cases = list(pr.get("cases") or [])
        cases += [c.id for c in cb.of_kind("case") if (c.get("practice") == pr.id or c.parent == pr.id) and c.id not in cases]
        for case in cases:
            declare(pr.id, case, "cases", corpus.orgs_with(case))
    _filter_evidence(edges, min_weight=min_weight, top_n=top_n, weight_by=weight_by, rank_by="jaccard", regions=regions)
    kinds = {c: G.nodes[c]["kind"] for c in codes}
    for (a, b), e in edges.items():
        G.add_edge(a, b, pair=_pair(kinds[a], kinds[b]), **_finish_edge(e, weight_by))
    if include_orgs:
        _add_orgs(ctx, G, occ, codes, weight_by)
    return G


def _add_orgs(ctx: _Ctx, G: nx.Graph, occ: Occurrences, codes: Sequence[str], weight_by: str) -> None:
    """Organisation nodes ``org:<transcript id>`` with a ``coded`` edge to every code they carry;
    the edge's ``windows`` counts the windows of that code in that interview."""
    regions = ctx.regions
    for t in ctx.corpus.transcripts:
        mine = {cid: sorted({c.key: c for k, cs in occ.by_code.get(cid, {}).items() if k[0] == t.id for c in cs}.values(),
                            key=lambda c: (c.start, c.end)) for cid in codes}
        mine = {cid: cs for cid, cs in mine.items() if cs}
        if not mine:  # an organisation that carries none of these codes would only be an isolate
            continue
        node = f"org:{t.id}"
        attrs: dict[str, Any] = {"ref": t.id, "kind": ORG, "label": t.org, "latent": False,
                                 "segments": len({c.segment for cs in mine.values() for c in cs}), "orgs": 1,
                                 "windows": len({k for cid in mine for k in occ.by_code[cid] if k[0] == t.id})}
        for r in regions:
            attrs[f"segments_{r}"] = attrs["segments"] if t.region == r else 0
            attrs[f"orgs_{r}"] = int(t.region == r)
        attrs.update(org_ids=t.id, attribution=ctx.corpus.note([t], "short"), region=t.region, attribute=t.attribute,
                     quotes=[_quote(ctx, c) for cs in mine.values() for c in cs])
        G.add_node(node, **attrs)
        for cid, cs in mine.items():
            e = _empty_edge(regions)
            e.update(kind="coded", windows=len({k for k in occ.by_code[cid] if k[0] == t.id}), orgs=1,
                     org_ids=t.id, attribution=attrs["attribution"], quotes=[_quote(ctx, c) for c in cs])
            e[f"windows_{t.region}"], e[f"orgs_{t.region}"] = e["windows"], 1
            G.add_edge(node, cid, pair=_pair(ORG, G.nodes[cid]["kind"]), **_finish_edge(e, weight_by))


# ---------------------------------------------------------------- co-occurrence
def family_codes(corpus: Corpus, families: Sequence[str]) -> list[str]:
    """Codable codes of the given families (``theme`` = themes and findings), in codebook order."""
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown code family {', '.join(unknown)} (choose from {', '.join(FAMILIES)})")
    cb = corpus.codebook
    return [c.id for c in cb.codes.values() if c.codable and c.kind != "group" and cb.family(c.id) in families]


def cooccurrence_network(
    corpus: Corpus,
    *,
    families: Sequence[str] = ("theme",),
    window: Window = "paragraph",
    weight_by: WeightBy = "windows",
    min_weight: float = 1,
    top_n: int | None = None,
    keep_isolates: bool = False,
    draft: bool = False,
) -> nx.Graph:
    """KH Coder's co-occurrence network of codes: a node per coded code of ``families``, an edge
    per pair coded in the same window, with ``windows``, ``orgs``, ``jaccard`` and ``weight``.

    Edges with ``weight`` < ``min_weight`` are dropped, then all but the ``top_n`` with the
    highest Jaccard (KH Coder's default view draws the top 60); nodes left without an edge are
    dropped unless ``keep_isolates``.
    """
    ctx = _Ctx(corpus)
    regions = ctx.regions
    codes = family_codes(corpus, families)
    occ = occurrences(corpus, window, codes)
    coded = [c for c in codes if c in occ.by_code]
    G = nx.Graph(**_graph_attrs(corpus, "cooccurrence", window, weight_by, regions, families=",".join(families),
                                draft=draft, min_weight=min_weight, top_n=top_n if top_n is not None else -1))
    for cid in coded:
        G.add_node(cid, **_code_node(ctx, occ, cid))
    edges = _evidence_edges(ctx, occ, coded)
    _filter_evidence(edges, min_weight=min_weight, top_n=top_n, weight_by=weight_by, rank_by="jaccard", regions=regions)
    for (a, b), e in edges.items():
        G.add_edge(a, b, pair=_pair(G.nodes[a]["kind"], G.nodes[b]["kind"]), **_finish_edge(e, weight_by))
    if not keep_isolates:
        G.remove_nodes_from([n for n in list(G) if G.degree(n) == 0])
    return G


# ---------------------------------------------------------------- communities and centralities
def analyse(G: nx.Graph, *, method: Literal["louvain", "greedy"] = "louvain", seed: int = 1) -> nx.Graph:
    """Add ``community`` (0 = the largest) and centralities to every node, in place; returns G.

    Node attributes: ``degree``, ``strength`` (sum of edge weights), ``degree_centrality``,
    ``betweenness`` (shortest paths with distance 1/weight, so strong ties are short) and
    ``pagerank`` (weighted). Graph attributes: ``community_method``, ``communities``, ``modularity``.
    """
    order = {n: i for i, n in enumerate(G)}
    if G.number_of_edges():
        if method == "louvain":
            comms = nx.community.louvain_communities(G, weight="weight", seed=seed)
        elif method == "greedy":
            comms = nx.community.greedy_modularity_communities(G, weight="weight")
        else:
            raise ValueError(f"unknown community method {method!r} (louvain or greedy)")
        modularity = nx.community.modularity(G, comms, weight="weight")
    else:
        comms, modularity = [{n} for n in G], 0.0
    comms = sorted((set(c) for c in comms), key=lambda c: (-len(c), min(order[n] for n in c)))
    for i, c in enumerate(comms):
        for n in c:
            G.nodes[n]["community"] = i
    H = G.copy()
    for _, _, d in H.edges(data=True):
        d["distance"] = 1.0 / d["weight"] if d.get("weight") else 1.0
    betweenness = nx.betweenness_centrality(H, weight="distance") if len(G) > 2 else {n: 0.0 for n in G}
    dc = nx.degree_centrality(G) if len(G) > 1 else {n: 0.0 for n in G}
    pr = nx.pagerank(G, weight="weight") if len(G) else {}
    for n in G:
        G.nodes[n]["degree"] = int(G.degree(n))
        G.nodes[n]["strength"] = round(float(G.degree(n, weight="weight")), 4)
        G.nodes[n]["degree_centrality"] = round(float(dc[n]), 4)
        G.nodes[n]["betweenness"] = round(float(betweenness[n]), 4)
        G.nodes[n]["pagerank"] = round(float(pr[n]), 4)
    G.graph.update(community_method=method, communities=len(comms), modularity=round(float(modularity), 4))
    return G


# ---------------------------------------------------------------- summary
def summarise(G: nx.Graph, *, top: int = 5) -> str:
    """A short text: size, communities, the most central challenges (or codes), the strongest
    challenge–practice pairs (or co-occurring pairs), and codes nobody coded."""
    kind = G.graph.get("network", "")
    window = G.graph.get("window", "paragraph")
    counts: dict[str, int] = {}
    for _, k in G.nodes(data="kind"):
        counts[k] = counts.get(k, 0) + 1
    ekinds: dict[str, int] = {}
    for _, _, k in G.edges(data="kind"):
        ekinds[k] = ekinds.get(k, 0) + 1
    title = "challenge–practice network" if kind == "challenge-practice" else f"co-occurrence network ({G.graph.get('families', '')})"
    lines = [
        ("DRAFT (includes unreviewed suggestions) — " if G.graph.get("draft") else "")
        + f"{title}, window: {window}: {len(G)} nodes ("
        + ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: _kind_rank(kv[0]))) + "), "
        + f"{G.number_of_edges()} edges (" + ", ".join(f"{n} {k}" for k, n in sorted(ekinds.items())) + ")"
    ]
    if "communities" in G.graph:
        lines.append(f"communities: {G.graph['communities']} ({G.graph.get('community_method')}, modularity {G.graph.get('modularity')})")

    def name(n: str) -> str:
        d = G.nodes[n]
        return f"{d.get('ref') or n} {d.get('label', '')}".strip()

    focus = [n for n, k in G.nodes(data="kind") if k == "challenge"] if kind == "challenge-practice" else list(G)
    if focus and "betweenness" in G.nodes[focus[0]]:
        ranked = sorted(focus, key=lambda n: (-G.nodes[n]["betweenness"], -G.nodes[n]["strength"], -G.nodes[n]["orgs"]))[:top]
        what = "challenges" if kind == "challenge-practice" else "codes"
        lines.append(f"most central {what} (betweenness; strength; organisations):")
        lines += [f"  {name(n)}: {G.nodes[n]['betweenness']:.3f}; {G.nodes[n]['strength']:g}; {G.nodes[n]['orgs']}" for n in ranked]
    if kind == "challenge-practice":
        pairs = [(u, v, d) for u, v, d in G.edges(data=True) if d["pair"] == "challenge-practice"]
        ev = sorted((p for p in pairs if p[2]["evidence"]), key=lambda p: (-p[2]["windows"], -p[2]["orgs"], -p[2]["jaccard"], p[0], p[1]))
        if ev:
            lines.append(f"strongest challenge–practice pairs (same {window}; windows, organisations, Jaccard):")
            lines += [f"  {_ch(u, v, G)}: {d['kind']}, {d['windows']} windows, {d['orgs']} orgs, Jaccard {d['jaccard']:.3f}" for u, v, d in ev[:top]]
        else:
            lines.append(f"no challenge and practice are coded in the same {window}: only the codebook's declared links join them"
                         + (" (try --window interview)" if window != "interview" else ""))
        dec = sorted((p for p in pairs if p[2]["declared"]), key=lambda p: (-p[2]["support"], p[0], p[1]))
        if dec:
            lines.append("declared challenge → practice links with the most organisations raising the challenge:")
            lines += [f"  {d['direction']}: {d['support']} orgs" for _, _, d in dec[:top]]
        silent = [n for n, d in G.nodes(data=True) if d["kind"] == "challenge" and not d["orgs"]]
        if silent:
            lines.append("challenges nobody raised: " + ", ".join(name(n) for n in silent))
    else:
        ev = sorted(G.edges(data=True), key=lambda p: (-p[2]["jaccard"], -p[2]["windows"], p[0], p[1]))
        if ev:
            lines.append("strongest pairs (Jaccard; windows, organisations):")
            lines += [f"  {G.nodes[u].get('ref') or u} – {G.nodes[v].get('ref') or v}: {d['jaccard']:.3f}; {d['windows']}, {d['orgs']}" for u, v, d in ev[:top]]
    return "\n".join(lines) + "\n"


def _ch(u: str, v: str, G: nx.Graph) -> str:
    a, b = (u, v) if G.nodes[u]["kind"] == "challenge" else (v, u)
    return f"{a} – {b}"


def _kind_rank(kind: str) -> int:
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


# ---------------------------------------------------------------- one call
def build_network(
    corpus: Corpus,
    kind: str = "challenge-practice",
    *,
    window: Window = "paragraph",
    families: Sequence[str] = ("theme",),
    include_orgs: bool = False,
    weight_by: WeightBy = "windows",
    min_weight: float = 1,
    top_n: int | None = None,
    community: Literal["louvain", "greedy"] = "louvain",
    draft: bool = False,
) -> nx.Graph:
    """Build the chosen network and :func:`analyse` it."""
    if kind == "challenge-practice":
        G = challenge_practice_network(corpus, window=window, include_orgs=include_orgs, weight_by=weight_by,
                                       min_weight=min_weight, top_n=top_n, draft=draft)
    elif kind == "cooccurrence":
        G = cooccurrence_network(corpus, families=families, window=window, weight_by=weight_by, min_weight=min_weight,
                                 top_n=top_n, draft=draft)
    else:
        raise ValueError(f"unknown network {kind!r} (choose from {', '.join(NETWORK_KINDS)})")
    return analyse(G, method=community)
