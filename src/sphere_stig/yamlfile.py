"""Reading the suite's YAML files: safe, and strict about repeated keys.

PyYAML keeps the last of two equal keys in a mapping without a word, so a
host written twice in an inventory, or a ``date`` written twice in an
answer, would silently lose the first. Every YAML file the suite reads
(inventories, answers, waivers, the catalog) goes through :func:`parse`,
which refuses that.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["DuplicateKeyError", "StrictLoader", "parse"]


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping holds one key twice. ``str()`` names the key path and both lines."""

    def __init__(self, path: str, first: yaml.Mark, second: yaml.Mark) -> None:
        super().__init__(
            problem=(
                f"{path} appears twice (lines {first.line + 1} and "
                f"{second.line + 1}); keep one"
            ),
            problem_mark=second,
        )
        self.path = path
        self.first_line = first.line + 1
        self.line = second.line + 1

    def __str__(self) -> str:
        return str(self.problem)


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping."""

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _check_keys(node, "", set())
        return self.construct_document(node)


def parse(text: str) -> Any:
    """The document in ``text``; ``yaml.YAMLError`` (or its
    :class:`DuplicateKeyError`) when it cannot be read."""
    return yaml.load(text, Loader=StrictLoader)


def _check_keys(node: Node, path: str, seen: set[int]) -> None:
    # An alias is the same node object again: walk it once, so that a file
    # of nested aliases cannot make the walk take exponential time.
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _check_keys(item, f"{path}[{index}]", seen)
    elif isinstance(node, MappingNode):
        first: dict[tuple[str, str], yaml.Mark] = {}
        for key, value in node.value:
            name = _key_text(key)
            here = f"{path}.{name}" if path else name
            if isinstance(key, ScalarNode):
                # The tag tells 1 from '1': YAML holds them as different keys.
                slot = (key.tag, key.value)
                if slot in first:
                    raise DuplicateKeyError(here, first[slot], key.start_mark)
                first[slot] = key.start_mark
            _check_keys(value, here, seen)


def _key_text(key: Node) -> str:
    return str(key.value) if isinstance(key, ScalarNode) else "(complex key)"
