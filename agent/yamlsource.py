"""Load a YAML file into plain values while keeping where each value sits.

Validation errors must name file, line and column, which plain
yaml.safe_load forgets. Anchors and aliases are rejected outright: a
config file needs none, and refusing them stops alias bombs in bounded
memory before any expansion.
"""

from dataclasses import dataclass

import yaml

MAX_CONFIG_BYTES = 256 * 1024


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file, in the compiler's file:line:column form."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self):
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class Document:
    """Plain data from a YAML file plus the position of every key and value."""

    def __init__(self, path, data, positions):
        self.path = str(path)
        self.data = data
        self._positions = positions

    def position(self, location):
        """Return (line, column), 1-based, of the value at a key path, or of its nearest parent."""
        location = tuple(location)
        while location not in self._positions and location:
            location = location[:-1]
        return self._positions.get(location, (1, 1))

    def key_position(self, location):
        return self._positions.get(("key",) + tuple(location)) or self.position(location)

    def problem(self, location, message, at_key=False):
        line, column = self.key_position(location) if at_key else self.position(location)
        return Problem(self.path, line, column, message)


class DocumentError(Exception):
    def __init__(self, problems):
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


def load_document(path, max_bytes=MAX_CONFIG_BYTES):
    """Read and parse a YAML file; raise DocumentError with positioned problems."""
    path = str(path)
    text = _read_text(path, max_bytes)
    try:
        root = yaml.compose(text, Loader=_NoAliasLoader)
    except _AliasFound as found:
        raise DocumentError([Problem(path, found.line, found.column, "anchors and aliases (& and *) are not allowed in a config file; write each value out")]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise DocumentError([Problem(path, line, column, f"invalid YAML: {error.problem or error}")]) from None
    except yaml.YAMLError as error:
        raise DocumentError([Problem(path, 1, 1, f"invalid YAML: {error}")]) from None

    if root is None:
        raise DocumentError([Problem(path, 1, 1, "the file is empty; start from one of the examples in config/examples/")])
    positions = {}
    problems = []
    data = _to_plain(root, (), positions, problems, path)
    if problems:
        raise DocumentError(problems)
    return Document(path, data, positions)


def _read_text(path, max_bytes):
    try:
        with open(path, "rb") as stream:
            raw = stream.read(max_bytes + 1)
    except FileNotFoundError:
        raise DocumentError([Problem(path, 1, 1, "file not found; pass an existing file with --config")]) from None
    except IsADirectoryError:
        raise DocumentError([Problem(path, 1, 1, "is a directory, not a config file")]) from None
    except PermissionError:
        raise DocumentError([Problem(path, 1, 1, "permission denied; run as a user that may read it")]) from None
    if len(raw) > max_bytes:
        raise DocumentError([Problem(path, 1, 1, f"file is larger than {max_bytes} bytes; a config file is a few kilobytes")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise DocumentError([Problem(path, line, column, f"invalid UTF-8 (byte 0x{raw[error.start]:02x}); save the file as UTF-8")]) from None


class _AliasFound(Exception):
    def __init__(self, mark):
        self.line = mark.line + 1
        self.column = mark.column + 1


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise _AliasFound(self.peek_event().start_mark)
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise _AliasFound(event.start_mark)
        return super().compose_node(parent, index)


def _to_plain(node, location, positions, problems, path):
    positions[location] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        return _mapping_to_plain(node, location, positions, problems, path)
    if isinstance(node, yaml.SequenceNode):
        return [_to_plain(child, location + (index,), positions, problems, path) for index, child in enumerate(node.value)]
    return _NoAliasLoader.construct_scalar_value(node)


def _mapping_to_plain(node, location, positions, problems, path):
    result = {}
    for key_node, value_node in node.value:
        key = _NoAliasLoader.construct_scalar_value(key_node) if isinstance(key_node, yaml.ScalarNode) else None
        mark = key_node.start_mark
        if not isinstance(key, (str, int, float, bool)) or key is None:
            problems.append(Problem(path, mark.line + 1, mark.column + 1, "a key must be a plain word"))
            continue
        if key in result:
            first = positions[("key",) + location + (key,)]
            problems.append(Problem(path, mark.line + 1, mark.column + 1, f"duplicate key {key!r}; it is first set on line {first[0]}, keep one of them"))
            continue
        positions[("key",) + location + (key,)] = (mark.line + 1, mark.column + 1)
        result[key] = _to_plain(value_node, location + (key,), positions, problems, path)
    return result


def _construct_scalar_value(node):
    return _SCALAR_LOADER.construct_object(node, deep=True)


_SCALAR_LOADER = yaml.SafeLoader("")
_NoAliasLoader.construct_scalar_value = staticmethod(_construct_scalar_value)
