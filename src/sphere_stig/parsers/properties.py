"""Java ``.properties`` files, read the way ``java.util.Properties.load`` reads them.

Tomcat's ``catalina.properties`` and Sphere's ``config.properties`` are both
loaded by Java, so a key only counts as set when Java would see it. The rules
reproduced here are those of ``Properties.load(InputStream)``:

* the byte stream is ISO 8859-1 (``\\uXXXX`` escapes carry anything else);
* a natural line ends at ``\\n``, ``\\r`` or ``\\r\\n``; a line whose content
  ends in an odd number of backslashes continues on the next one, whose
  leading white space is dropped;
* a line whose first non-blank character is ``#`` or ``!`` is a comment (and
  is never continued), blank lines are skipped;
* the key ends at the first unescaped ``=``, ``:`` or white space; white space
  and at most one ``=`` or ``:`` then separate it from the value;
* ``\\t \\n \\r \\f`` and ``\\uXXXX`` are escapes, any other escaped character
  stands for itself; a later definition of a key replaces an earlier one.

Some rules compare the raw text of a line instead of its value (V-224769:
the file must literally hold ``\\\\.``), so each entry keeps its raw lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from sphere_stig.outcome import CheckError

_WHITESPACE = " \t\f"
_LINE_TERMINATOR = re.compile(r"\r\n|\r|\n")
_SIMPLE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


@dataclass(frozen=True)
class PropertyEntry:
    """One key as Java loads it, with the text it came from."""

    key: str
    value: str
    # The value exactly as written (escapes not applied, continuation
    # backslashes and the indentation of continued lines removed).
    raw_value: str
    # The natural lines of the definition, without line terminators.
    raw_lines: tuple[str, ...]
    line_number: int

    @property
    def raw_line(self) -> str:
        return "\n".join(self.raw_lines)


@dataclass(frozen=True)
class Properties:
    """A parsed properties file; lookups follow Java (the last definition wins)."""

    entries: tuple[PropertyEntry, ...]
    # A UTF-8 byte-order mark is not skipped by Properties.load(InputStream):
    # it becomes part of the first key, which Java then never finds.
    starts_with_bom: bool = False

    def entry(self, key: str) -> PropertyEntry | None:
        for candidate in reversed(self.entries):
            if candidate.key == key:
                return candidate
        return None

    def get(self, key: str, default: str | None = None) -> str | None:
        found = self.entry(key)
        return default if found is None else found.value

    def raw_line(self, key: str) -> str | None:
        """The raw text of the definition Java uses for ``key``, or None."""
        found = self.entry(key)
        return None if found is None else found.raw_line

    def as_dict(self) -> dict[str, str]:
        return {e.key: e.value for e in self.entries}

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.entry(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())


def parse_properties(
    data: bytes | str, source: str = "properties file", encoding: str = "iso-8859-1"
) -> Properties:
    """Parse a properties file; ``source`` (host and path) prefixes errors."""
    text = data.decode(encoding) if isinstance(data, bytes) else data
    starts_with_bom = text.startswith(("\ufeff", "\xef\xbb\xbf"))
    entries = [
        _entry(logical, raw_lines, number, source)
        for logical, raw_lines, number in _logical_lines(text)
    ]
    return Properties(tuple(entries), starts_with_bom)


def _logical_lines(text: str) -> Iterator[tuple[str, tuple[str, ...], int]]:
    lines = _LINE_TERMINATOR.split(text)
    # After a final line terminator (or in an empty file) the split leaves
    # an empty string that is not a line.
    if lines[-1] == "":
        lines.pop()
    index = 0
    while index < len(lines):
        first = index
        content = lines[index].lstrip(_WHITESPACE)
        index += 1
        if not content or content[0] in "#!":
            continue
        raw = [lines[first]]
        while _continues(content):
            content = content[:-1]
            if index >= len(lines):
                break
            raw.append(lines[index])
            content += lines[index].lstrip(_WHITESPACE)
            index += 1
        yield content, tuple(raw), first + 1


def _continues(content: str) -> bool:
    trailing = len(content) - len(content.rstrip("\\"))
    return trailing % 2 == 1


def _entry(
    logical: str, raw_lines: tuple[str, ...], number: int, source: str
) -> PropertyEntry:
    key_end, value_start = _split(logical)
    where = f"{source}: line {number}"
    return PropertyEntry(
        key=_unescape(logical[:key_end], where),
        value=_unescape(logical[value_start:], where),
        raw_value=logical[value_start:],
        raw_lines=raw_lines,
        line_number=number,
    )


def _split(logical: str) -> tuple[int, int]:
    escaped = False
    key_end = len(logical)
    value_start = len(logical)
    has_separator = False
    for position, char in enumerate(logical):
        if not escaped and char in "=:":
            key_end, value_start, has_separator = position, position + 1, True
            break
        if not escaped and char in _WHITESPACE:
            key_end, value_start = position, position + 1
            break
        escaped = char == "\\" and not escaped
    while value_start < len(logical):
        char = logical[value_start]
        if char not in _WHITESPACE:
            if has_separator or char not in "=:":
                break
            has_separator = True
        value_start += 1
    return key_end, value_start


def _unescape(text: str, where: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        position += 1
        if char != "\\" or position >= len(text):
            out.append(char)
            continue
        char = text[position]
        position += 1
        if char == "u":
            digits = text[position : position + 4]
            if len(digits) < 4 or not all(
                c in "0123456789abcdefABCDEF" for c in digits
            ):
                written = "\\u" + digits
                raise CheckError(
                    f"{where}: malformed \\uXXXX escape ({written!r}); Java refuses "
                    "to load a file with this error, so fix the escape and run again"
                )
            out.append(chr(int(digits, 16)))
            position += 4
        else:
            out.append(_SIMPLE_ESCAPES.get(char, char))
    return "".join(out)
