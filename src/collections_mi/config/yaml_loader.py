"""A bounded YAML loader for the files a user writes (params): plain YAML only.

PyYAML's ``SafeLoader`` is safe from code execution, not from a hostile or careless file. This loader also refuses

* a file larger than :data:`MAX_BYTES` (a params file is a few kB), more than :data:`MAX_NODES` values and nesting
  deeper than :data:`MAX_DEPTH`;
* anchors and aliases (``&name`` / ``*name``): an "alias bomb" (billion laughs) expands a few lines into billions of
  values — refused at the first anchor, before anything is built, so time and memory stay bounded; merge keys
  (``<<``) go with them;
* explicit tags (``!!binary``, ``!!set``, ``!!omap``, ``!!python/…``, ``!custom``): params are text, numbers, dates,
  booleans, lists and mappings (``!!str`` may still force text);
* a key written twice in one mapping (YAML would keep the second silently), naming the key and both lines;
* a key that is a list or a mapping.

Numbers with a fraction are read as exact :class:`~decimal.Decimal` (``0.005`` stays ``Decimal('0.005')``) and dates
are left as text for the params' own strict parsing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from collections_mi.core.printable import escaped

#: the largest file read (1 MiB; the committed params file is about 1 kB)
MAX_BYTES = 1_048_576
#: the deepest nesting of lists and mappings (params nest 6 levels: source.tables.<t>.values.<column>.<value>)
MAX_DEPTH = 20
#: the most values (scalars, lists, mappings) in one file: the committed params hold about 60, a full mapping of an
#: export a few hundred; the pure-Python parser takes ~0.1 ms a value, so this bounds parsing to about a second
MAX_NODES = 10_000
#: explicit tags allowed: none but "this is text" (``!!str 2026``); ``!`` is what quoted scalars carry
ALLOWED_TAGS = frozenset({"!", "tag:yaml.org,2002:str"})
_MERGE = "tag:yaml.org,2002:merge"


class YamlRefused(Exception):
    """The file is YAML this loader does not accept; ``message`` says why (with line numbers), ``hint`` the fix."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors, aliases, explicit tags and deep nesting while it composes the node tree
    (before anything is constructed), reads floats as Decimals and leaves timestamps as text."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent):
            raise YamlRefused(
                f"line {line}: YAML aliases (*{_short(event.anchor or '')}) are not allowed in params",
                hint="write each value out in full: params use no anchors (&) or aliases (*)",
            )
        if isinstance(event, (ScalarEvent, CollectionStartEvent)):
            self._nodes += 1
            if self._nodes > MAX_NODES:
                raise YamlRefused(
                    f"line {line}: the file holds more than {MAX_NODES:,} values; params hold a few hundred at most",
                    hint="a params file is a few kB of settings: check that this is the right file",
                )
            if event.anchor is not None:
                raise YamlRefused(
                    f"line {line}: YAML anchors (&{_short(event.anchor)}) are not allowed in params",
                    hint="write each value out in full: params use no anchors (&) or aliases (*)",
                )
            if event.tag is not None and event.tag not in ALLOWED_TAGS:
                tag = event.tag.replace("tag:yaml.org,2002:", "!!", 1)
                raise YamlRefused(
                    f"line {line}: the YAML tag {_short(tag)} is not allowed in params",
                    hint="remove the tag: params hold text, numbers, dates, true/false, lists and "
                    "mappings (quote a value to make it text)",
                )
        if isinstance(event, CollectionStartEvent):
            if self._depth >= MAX_DEPTH:
                raise YamlRefused(
                    f"line {line}: lists and mappings nest more than {MAX_DEPTH} levels deep",
                    hint="params nest a few levels (source.tables.<table>.columns); check the indentation and brackets",
                )
            self._depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1
        return super().compose_node(parent, index)


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    return Decimal(loader.construct_scalar(node).replace("_", ""))


def _date_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_BoundedLoader.add_constructor("tag:yaml.org,2002:float", _decimal)
_BoundedLoader.add_constructor("tag:yaml.org,2002:timestamp", _date_text)


def _short(text: str, limit: int = 40) -> str:
    """A name from the file for a message: controls escaped, bounded."""
    shown = escaped(text, one_line=True)
    return shown if len(shown) <= limit else shown[:limit] + "…"


def _check_keys(loader: _BoundedLoader, node: Node, path: tuple[str, ...]) -> None:
    """Every mapping's keys: scalars, no merge key, none twice (iteratively: the depth is bounded anyway)."""
    pending: list[tuple[Node, tuple[str, ...]]] = [(node, path)]
    while pending:
        current, where = pending.pop()
        if isinstance(current, SequenceNode):
            pending.extend((item, (*where, str(i))) for i, item in enumerate(current.value))
            continue
        if not isinstance(current, MappingNode):
            continue
        seen: dict[Any, int] = {}
        for key_node, value_node in current.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                raise YamlRefused(
                    f"line {line}: a key of {_dotted(where)} is a list or a mapping",
                    hint="a key is a name such as aging or current",
                )
            if key_node.tag == _MERGE:
                raise YamlRefused(
                    f"line {line}: YAML merge keys (<<) are not allowed in params", hint="write the keys out in full"
                )
            value = loader.construct_object(key_node)
            # Yes and yes are both true; 1 and "1" are both the source value "1" once read as text
            same = value if isinstance(value, bool) or value is None else str(value)
            name = _dotted((*where, str(key_node.value)))
            if same in seen:
                raise YamlRefused(
                    f"the key {name} is written twice (lines {seen[same]} and {line}); YAML would keep only the "
                    "second and silently drop the first",
                    hint=f"write {name} once: merge the two into one",
                )
            seen[same] = line
            pending.append((value_node, (*where, str(key_node.value))))


def _dotted(path: tuple[str, ...]) -> str:
    return _short(".".join(path), 120) if path else "(top level)"


def load_yaml(text: str) -> Any:
    """Parse one YAML document under the rules above; raises :class:`YamlRefused` or ``yaml.YAMLError``."""
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_BYTES:
        raise YamlRefused(
            f"the file is {size:,} bytes; params files are at most {MAX_BYTES:,} bytes",
            hint="a params file is a few kB of settings: check that this is the right file",
        )
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_keys(loader, node, ())
        return loader.construct_document(node)
    finally:
        loader.dispose()
