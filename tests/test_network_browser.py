"""The network's HTML page in a real headless Chromium, offline: it loads with no network access,
logs no console error, draws every node, shows the evidence on hover, and filters.

Chromium is driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``: JSON
messages ended by NUL on fds 3 and 4), so no driver package is needed. Without a browser the
test is skipped, saying how to get one.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from coding.aggregate import Corpus
from coding.network import build_network
from coding.network_export import write_network
from coding.project import Project, confirmed_codings

from conftest import ROOT

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--remote-debugging-pipe",
         "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-dev-shm-usage",
         "--disable-component-update", "--disable-sync", "--window-size=1500,1000",
         # no network: every host resolves to nothing and any proxy request goes nowhere
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium on this machine: `apt-get install -y chromium` (as .ci/run does) to run the browser check")


class Chromium:
    """Just enough of the DevTools protocol: send a command, wait for its reply, keep the events."""

    def __init__(self, binary: str):
        self.profile = tempfile.mkdtemp(prefix="network-chromium-")  # an empty profile every time
        cmd_r, self._cmd_w = os.pipe()
        self._res_r, res_w = os.pipe()

        def wire():  # in the child: commands on fd 3, replies on fd 4
            a, b = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10), fcntl.fcntl(res_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     pass_fds=(3, 4), preexec_fn=wire, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(res_w)
        self._id, self._lock, self._replies = 0, threading.Lock(), {}
        self.events: list[dict] = []
        self.session: str | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._res_r, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._lock:
                        q = self._replies.get(msg["id"])
                    if q:
                        q.put(msg)
                else:
                    self.events.append(msg)

    def send(self, method: str, params: dict | None = None, *, session: bool = True, timeout: float = 60) -> dict:
        with self._lock:
            self._id += 1
            mid, q = self._id, queue.Queue()
            self._replies[mid] = q
        msg = {"id": mid, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        reply = q.get(timeout=timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        self.send("Page.navigate", {"url": url})

    def js(self, expression: str):
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in res:
            raise AssertionError(f"{expression}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait_for(self, expression: str, *, timeout: float = 60):
        """Poll a condition until it holds (a limit for a hung page, not a timing assertion)."""
        end = time.monotonic() + timeout
        while not (value := self.js(expression)):
            if time.monotonic() > end:
                raise AssertionError(f"the page never satisfied: {expression}")
            time.sleep(0.05)
        return value

    def mouse(self, x: float, y: float) -> None:
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"]))

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions and any request that left the machine."""
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif m == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails", {}), ensure_ascii=False)[:400])
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append("log: " + p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
            elif m == "Network.requestWillBeSent":
                url = p.get("request", {}).get("url", "")
                if not url.startswith(("file:", "data:", "about:", "blob:")):
                    out.append("request: " + url)
        return out

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._cmd_w, self._res_r):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


# Every node's own colour (its kind's or community's, from the data, not from the view) must be on the
# canvas within the node's radius: a filled dot or a hollow ring.
DRAWN = """(() => {
  const N = window.cpNetwork, net = N.network, canvas = document.querySelector('#net canvas');
  const ctx = canvas.getContext('2d'), r = canvas.width / canvas.clientWidth, box = canvas.getBoundingClientRect();
  const hex = h => [1, 3, 5].map(i => parseInt(h.slice(i, i + 2), 16));
  const missing = [];
  for (const n of N.data.nodes) {
    const v = N.nodes.get(n.id);
    if (v.hidden) { missing.push(n.key + ' hidden'); continue; }
    const p = net.canvasToDOM(net.getPosition(n.id)), rad = Math.max(2, v.size * net.getScale());
    if (p.x < 0 || p.y < 0 || p.x > box.width || p.y > box.height) { missing.push(n.key + ' off screen'); continue; }
    const want = hex(n.colour);  // the colour of its kind (or community), filled or as a hollow ring
    const x0 = Math.round((p.x - rad) * r), y0 = Math.round((p.y - rad) * r), w = Math.max(1, Math.round(2 * rad * r));
    const px = ctx.getImageData(x0, y0, w, w).data;
    let hit = false;
    for (let i = 0; i < px.length && !hit; i += 4)
      hit = Math.abs(px[i] - want[0]) + Math.abs(px[i + 1] - want[1]) + Math.abs(px[i + 2] - want[2]) < 40;
    if (!hit) missing.push(n.key + ' not painted');
  }
  return {nodes: N.data.nodes.length, missing: missing};
})()"""

CENTRE = "(() => {{ const net = window.cpNetwork.network, b = document.querySelector('#net').getBoundingClientRect();" \
         " const p = net.canvasToDOM({pos}); return [b.left + p.x, b.top + p.y]; }})()"


@pytest.fixture(scope="module")
def chromium():
    b = Chromium(_browser())
    yield b
    b.close()


@pytest.fixture(scope="module")
def sample_pages(tmp_path_factory):
    p = Project.open(ROOT)
    corpus = Corpus(p.transcripts, p.codebook, confirmed_codings(p))
    out = tmp_path_factory.mktemp("network")
    pages = {}
    for name, G in {"paragraph": build_network(corpus), "interview": build_network(corpus, window="interview"),
                    "orgs": build_network(corpus, include_orgs=True),
                    "cooccurrence": build_network(corpus, "cooccurrence", window="interview", top_n=60)}.items():
        (path,) = write_network(G, out / name, ["html"])
        pages[name] = (path, G)
    return pages


def _load(b: Chromium, path: Path) -> None:
    b.events.clear()
    b.open(path.as_uri())
    b.wait_for(f"location.href === {json.dumps(path.as_uri())} && document.readyState === 'complete'"
               " && !!document.documentElement && document.documentElement.getAttribute('data-drawn')")


@pytest.mark.parametrize("name", ["paragraph", "interview", "orgs", "cooccurrence"])
def test_page_loads_offline_without_errors_and_draws_every_node(chromium, sample_pages, name, tmp_path):
    path, G = sample_pages[name]
    _load(chromium, path)
    drawn = chromium.js(DRAWN)
    assert drawn == {"nodes": len(G), "missing": []}
    assert chromium.js("window.cpNetwork.edges.get({filter: e => !e.hidden}).length") == G.number_of_edges()
    assert chromium.js("document.querySelectorAll('script[src], link[href], img[src], iframe').length") == 0
    assert chromium.problems() == []
    if os.environ.get("NETWORK_SCREENSHOTS"):  # for a person to look at: NETWORK_SCREENSHOTS=dir pytest ...
        chromium.screenshot(Path(os.environ["NETWORK_SCREENSHOTS"]) / f"{name}.png")


def test_hover_shows_the_quotes_with_their_attribution_notes(chromium, sample_pages):
    path, G = sample_pages["interview"]
    _load(chromium, path)
    idx = {n: i for i, n in enumerate(G)}
    x, y = chromium.js(CENTRE.format(pos=f"window.cpNetwork.network.getPosition({idx['課題④']})"))
    chromium.mouse(x, y)
    chromium.wait_for("document.querySelector('#panel h2') && document.querySelector('#panel h2').textContent.includes('課題④')")
    quotes = chromium.js("[...document.querySelectorAll('#panel li.quote')].map(li => li.textContent)")
    expected = G.nodes["課題④"]["quotes"]
    assert len(quotes) == len(expected) == G.nodes["課題④"]["segments"]
    assert all(f"“{q['text']}”（{q['note']}）" in li for q, li in zip(expected, quotes))
    assert "国内" in quotes[0]  # the long note of a Japanese organisation, e.g. 国内技術移転機関
    # an edge: the middle of 課題⑩ – P4 (declared, and coded in the same interviews)
    mid = (f"(() => {{ const a = window.cpNetwork.network.getPosition({idx['課題⑩']}), b = window.cpNetwork.network.getPosition({idx['P4']});"
           " return {x: (a.x + b.x) / 2, y: (a.y + b.y) / 2}; })()")
    chromium.mouse(5, 5)
    x, y = chromium.js(CENTRE.format(pos=mid))
    chromium.mouse(x, y)
    chromium.wait_for("document.querySelector('#panel h2').textContent.includes('→')")
    head = chromium.js("document.querySelector('#panel h2').textContent")
    assert head.startswith("課題⑩") and "P4" in head
    n_quotes = chromium.js("document.querySelectorAll('#panel li.quote').length")
    assert n_quotes == len(G.edges["課題⑩", "P4"]["quotes"]) > 0
    assert chromium.problems() == []


def test_region_and_edge_kind_filters(chromium, sample_pages):
    path, G = sample_pages["orgs"]
    _load(chromium, path)
    visible_nodes = "window.cpNetwork.nodes.get({filter: n => !n.hidden}).length"
    visible_edges = "window.cpNetwork.edges.get({filter: e => !e.hidden}).length"
    chromium.js("(() => { const s = document.getElementById('region'); s.value = '米国'; s.dispatchEvent(new Event('change')); })()")
    us_orgs = sum(1 for _, d in G.nodes(data=True) if d["kind"] == "organisation" and d["region"] == "米国")
    codes = sum(1 for _, d in G.nodes(data=True) if d["kind"] != "organisation")
    assert chromium.js(visible_nodes) == codes + us_orgs
    us_edges = sum(1 for _, _, d in G.edges(data=True) if d["declared"] or d["windows_米国"] > 0)
    assert chromium.js(visible_edges) == us_edges
    chromium.js("(() => { const s = document.getElementById('region'); s.value = ''; s.dispatchEvent(new Event('change')); })()")
    chromium.js("(() => { for (const c of document.querySelectorAll('input.edgekind'))"
                " if (c.value === 'coded') { c.checked = false; c.dispatchEvent(new Event('change')); } })()")
    assert chromium.js(visible_edges) == sum(1 for _, _, d in G.edges(data=True) if d["kind"] != "coded")
    assert chromium.problems() == []
