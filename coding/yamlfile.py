"""YAML as this toolkit reads it: safe, bounded, and with the line of every mapping and key.

People write ``codebook.yml``, ``anonymity.yml`` and transcript front matter by hand, so every
message about them names a line. :func:`load_yaml` records, in each mapping it builds,
``__line__`` (the line the mapping starts on), ``__keylines__`` (key → line) and ``__dupkeys__``
(keys written twice, which YAML would otherwise silently collapse to the last value).
:func:`strip_lines` removes these markers.

Bounds: a file over ``max_bytes`` is refused before parsing, and so is a document whose aliases
would expand past ``max_nodes`` nodes (a "billion laughs" alias bomb is a few lines that expand to
billions of values the first time anything walks them).
"""
from __future__ import annotations

from typing import Any

import yaml

_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML has it
MAX_BYTES = 20 * 2**20
MAX_NODES = 2_000_000


class YamlProblem(ValueError):
    """A YAML text that cannot be read; ``line`` is 1-based."""

    def __init__(self, line: int, message: str):
        self.line, self.message = line, message
        super().__init__(f"{line}: {message}")


class _LineLoader(_BASE):
    """A SafeLoader that records lines and duplicate keys in every mapping."""

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        keys, lines = [], {}
        for k, _ in node.value:
            key = self.construct_object(k, deep=True)
            keys.append(key)
            if isinstance(key, (str, int, float, bool)) and key not in lines:
                lines[key] = k.start_mark.line + 1
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        mapping["__keylines__"] = lines
        dup = sorted({str(k) for k in keys if keys.count(k) > 1 and isinstance(k, (str, int, float))})
        if dup:
            mapping["__dupkeys__"] = dup
        return mapping


def _expanded_size(node, limit: int) -> int:
    """How many nodes the document has once every alias is expanded (stops counting past limit)."""
    sizes: dict[int, int] = {}

    def size(n) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        sizes[key] = 1  # a recursive structure counts once
        total = 1
        if isinstance(n, yaml.SequenceNode):
            for child in n.value:
                total += size(child)
                if total > limit:
                    break
        elif isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                total += size(k) + size(v)
                if total > limit:
                    break
        sizes[key] = total
        return total

    return size(node)


def load_yaml(text: str, *, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_NODES) -> Any:
    """Parse one YAML document safely; raises :class:`YamlProblem` with the line of the problem."""
    if len(text) > max_bytes:
        raise YamlProblem(1, f"the file is larger than {max_bytes // 2**20} MB")
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, max_nodes) > max_nodes:
            raise YamlProblem(node.start_mark.line + 1,
                              f"aliases (*name) expand to more than {max_nodes:,} values; write the lists out or use fewer aliases")
        return loader.construct_document(node)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise YamlProblem(mark.line + 1 if mark is not None else 1, f"not valid YAML: {problem}") from None
    except RecursionError:
        raise YamlProblem(1, "nested too deeply") from None
    finally:
        loader.dispose()


def line_of(obj: Any, default: int = 1) -> int:
    """The line a mapping read by :func:`load_yaml` starts on."""
    return obj.get("__line__", default) if isinstance(obj, dict) else default


def key_line(obj: Any, key: Any, default: int = 1) -> int:
    """The line of ``key`` in a mapping read by :func:`load_yaml`."""
    if isinstance(obj, dict):
        return (obj.get("__keylines__") or {}).get(key, obj.get("__line__", default))
    return default


def dup_keys(obj: Any) -> list[str]:
    return list(obj.get("__dupkeys__") or []) if isinstance(obj, dict) else []


def strip_lines(obj: Any) -> Any:
    """``obj`` without the line markers (a deep copy of its mappings and lists)."""
    if isinstance(obj, dict):
        return {k: strip_lines(v) for k, v in obj.items() if not (isinstance(k, str) and k.startswith("__"))}
    if isinstance(obj, list):
        return [strip_lines(v) for v in obj]
    return obj
