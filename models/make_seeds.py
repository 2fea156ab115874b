"""Write models/report_seeds.yml: passages of the report (事例集) as seed examples for the learned
suggester, mapped to codes. The case book states, per case, its background problem (背景課題: the
challenge, often in a Japanese university's own words) and what was done (取り組み概要: the
practice); the committee section discusses three challenges. Run from the repository root:

    python models/make_seeds.py /path/to/report.txt

Only the report is read: never the held-out notes (tests/heldout/).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

# case → challenge its background problem states (None: not one of 図表34's challenges)
CHALLENGE_OF_CASE = {"事例①": "課題①", "事例②": "課題①", "事例③": "課題②", "事例④": "課題②", "事例⑤": "課題④",
                     "事例⑥": "課題④", "事例⑦": "課題⑥", "事例⑧": None, "事例⑨": "課題⑤", "事例⑩": "課題⑤",
                     "事例⑪": "課題⑩", "事例⑫": "課題①", "事例⑬": "課題⑧", "事例⑭": "課題③", "事例⑮": "課題④"}
PRACTICE_OF_CASE = {"事例①": "P1", "事例②": "P1", "事例③": "P2", "事例④": "P2", "事例⑤": "P3", "事例⑥": "P3",
                    "事例⑦": "P3", "事例⑧": "P3", "事例⑨": "P4", "事例⑩": "P4", "事例⑪": "P4", "事例⑫": "P5",
                    "事例⑬": "P5", "事例⑭": "P5", "事例⑮": "P5"}
COMMITTEE = {"課題⑤": "○ 課題⑤", "課題⑦": "○ 潜在的な課題⑦", "課題⑩": "○ 課題⑩"}


def clean(text: str) -> str:
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def seeds(lines: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    start = next(i for i, l in enumerate(lines) if l.startswith("事例集"))
    case = None
    for i in range(start, len(lines)):
        m = re.match(r"^(事例[①-⑮])：", lines[i])
        if m:
            case = m.group(1)
        for head, target, stop in (("背景", CHALLENGE_OF_CASE, ("取り組み", "施策", "「")),
                                   ("取り組み", PRACTICE_OF_CASE, ("成果", "出典"))):
            if case and re.match(r"^\s*(<p>)?" + head + r"\s*(課題|概要)", lines[i]) and target.get(case):
                block = [lines[i].split("課題" if head == "背景" else "概要", 1)[1]]
                for j in range(i + 1, min(i + 12, len(lines))):
                    if lines[j].strip().startswith(stop) and j > i + 1:
                        break
                    block.append(lines[j])
                text = clean(" ".join(block))[:600]
                if len(text) > 20:
                    out.setdefault(target[case], []).append(text)
    for code, head in COMMITTEE.items():
        i = next(k for k, l in enumerate(lines) if l.startswith(head))
        block = [l for l in lines[i + 1 : i + 8] if l.strip() and not l.startswith("○")]
        out.setdefault(code, []).append(clean(" ".join(block))[:800])
    return out


if __name__ == "__main__":
    report = Path(sys.argv[1])
    data = seeds(report.read_text(encoding="utf-8").splitlines())
    head = ("# Seed examples for the learned suggester: passages of the report's case book (背景課題 →\n"
            "# the challenge, 取り組み概要 → the practice) and committee remarks. Written by\n"
            "# models/make_seeds.py from the report; never from the held-out notes.\n")
    body = yaml.safe_dump(dict(sorted(data.items())), allow_unicode=True, sort_keys=False, width=1000)
    Path(__file__).with_name("report_seeds.yml").write_text(head + body, encoding="utf-8")
    print({k: len(v) for k, v in sorted(data.items())})
