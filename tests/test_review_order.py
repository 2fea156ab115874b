"""Review views list the most confident suggestions first (scores from the tagger)."""
from __future__ import annotations

from coding.project import Project, code_project
from coding.review import review_items


def test_review_items_sorted_by_score_or_position(project, write):
    write("a.md", "A: 専門人材が慢性的に不足している。\n\nA: 共願が多い。共同研究では共願を求められる。\n", id="JP-A")
    p = Project.open(project)
    code_project(p)
    by_score = review_items(p, sort="score")
    by_pos = review_items(p)
    assert len(by_score) == len(by_pos) > 2
    assert [i.score for i in by_score] == sorted((i.score for i in by_score), reverse=True)
    assert [(i.start, i.code_id) for i in by_pos] == sorted((i.start, i.code_id) for i in by_pos)
