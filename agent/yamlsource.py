"""Load a YAML file into plain values and record where each value sits.

Validation errors must name file, line and column, which yaml.safe_load
discards. Anchors and aliases are rejected at the first one, before any
expansion, so an alias bomb is never expanded; a config file needs none.
Explicit tags, deep nesting and oversized files are rejected as well.
"""

import os
import stat
from dataclasses import dataclass

import yaml

MAX_CONFIG_BYTES = 128 * 1024
# A config file nests five levels deep; the cap keeps PyYAML's recursive
# composer far from Python's recursion limit on a hostile file.
MAX_NESTING = 32

# Marks a key's own position in the positions table; a string could clash with a key named "key".
_KEY = object()
_SCALAR_TAGS = {"tag:yaml.org,2002:" + name for name in ("str", "int", "float", "bool", "null", "timestamp")}
_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


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

    def __init__(self, path, data, positions, scalar_texts=None):
        self.path = str(path)
        self.data = data
        self._positions = positions
        self._scalar_texts = scalar_texts or {}

    def position(self, location):
        """Return (line, column), 1-based, of the value at a key path, or of its nearest parent."""
        location = tuple(location)
        while location not in self._positions and location:
            location = location[:-1]
        return self._positions.get(location, (1, 1))

    def scalar_text(self, location):
        """Return a scalar as written in the file, before YAML typed it: '2.10', not 2.1."""
        return self._scalar_texts.get(tuple(location))

    def key_position(self, location):
        return self._positions.get((_KEY,) + tuple(location)) or self.position(location)

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
    except _TooDeep as found:
        raise DocumentError([Problem(path, found.line, found.column, f"nested more than {MAX_NESTING} levels deep; a config file needs five")]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise DocumentError([Problem(path, line, column, f"invalid YAML: {error.problem or error}")]) from None
    except yaml.reader.ReaderError as error:
        line, column = _line_column(text, error.position)
        raise DocumentError([Problem(path, line, column, f"invalid YAML: control character #x{error.character:04x} is not allowed")]) from None
    except yaml.YAMLError as error:
        raise DocumentError([Problem(path, 1, 1, f"invalid YAML: {error}")]) from None

    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag.endswith(":null") and not root.value.strip("~")):
        raise DocumentError([Problem(path, 1, 1, "the file is empty; a config needs at least device and monitors")])
    plain = _PlainBuilder(path)
    data = plain.build(root, ())
    if plain.problems:
        raise DocumentError(plain.problems)
    return Document(path, data, plain.positions, plain.scalar_texts)


def _read_text(path, max_bytes):
    try:
        raw = _read_regular_file(path, max_bytes + 1)
    except FileNotFoundError:
        raise DocumentError([Problem(path, 1, 1, "file not found")]) from None
    except IsADirectoryError:
        raise DocumentError([Problem(path, 1, 1, "is a directory, not a file")]) from None
    except PermissionError:
        raise DocumentError([Problem(path, 1, 1, "permission denied; run as a user that can read the file")]) from None
    except OSError as error:
        raise DocumentError([Problem(path, 1, 1, f"cannot read the file: {error.strerror or error}")]) from None
    except ValueError:
        raise DocumentError([Problem(path, 1, 1, "the path contains a NUL character")]) from None
    if len(raw) > max_bytes:
        raise DocumentError([Problem(path, 1, 1, f"file is larger than {max_bytes} bytes; a config file is a few kilobytes")])
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise DocumentError([Problem(path, line, column, f"invalid UTF-8 (byte 0x{raw[error.start]:02x}); save the file as UTF-8")]) from None


def _read_regular_file(path, limit):
    """Read at most limit bytes; a FIFO or device would block or never end, so only regular files are read."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(mode):
            raise OSError(0, "not a regular file")
        with os.fdopen(descriptor, "rb", closefd=False) as stream:
            return stream.read(limit)
    finally:
        os.close(descriptor)


def _line_column(text, offset):
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


class _AliasFound(Exception):
    def __init__(self, mark):
        self.line = mark.line + 1
        self.column = mark.column + 1


class _TooDeep(Exception):
    def __init__(self, mark):
        self.line = mark.line + 1
        self.column = mark.column + 1


class _NoAliasLoader(yaml.SafeLoader):
    """A safe loader that stops at the first anchor or alias and at deep nesting."""

    _depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _AliasFound(event.start_mark)
        if self._depth >= MAX_NESTING:
            raise _TooDeep(event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _PlainBuilder:
    """Turns composed nodes into dicts, lists and scalars, recording positions and problems."""

    def __init__(self, path):
        self.path = path
        self.positions = {}
        self.scalar_texts = {}
        self.problems = []
        self._constructor = yaml.SafeLoader("")

    def report(self, mark, message):
        self.problems.append(Problem(self.path, mark.line + 1, mark.column + 1, message))

    def report_tag(self, node):
        self.report(node.start_mark, f"the tag {node.tag.replace('tag:yaml.org,2002:', '!!')} is not allowed in a config file; write a plain value")

    def build(self, node, location):
        self.positions[location] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _COLLECTION_TAGS:
            self.report_tag(node)
            return None
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, location)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, location + (index,)) for index, child in enumerate(node.value)]
        self.scalar_texts[location] = node.value
        return self.scalar(node)

    def scalar(self, node):
        if node.tag not in _SCALAR_TAGS:
            self.report_tag(node)
            return None
        try:
            value = self._constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as error:
            self.report(node.start_mark, f"invalid value {node.value!r}: {error.problem}")
            return None
        except (ValueError, IndexError, OverflowError, TypeError):
            # An explicit tag on text that does not fit it, such as !!int event.
            self.report(node.start_mark, f"invalid value {node.value!r} for the tag {node.tag.replace('tag:yaml.org,2002:', '!!')}")
            return None
        # A YAML 1.1 date such as 2024-01-01 is kept as the text written, because no setting is a date.
        if not isinstance(value, (str, int, float, bool, type(None))):
            return node.value
        return value

    def mapping(self, node, location):
        result = {}
        for key_node, value_node in node.value:
            reported = len(self.problems)
            key = self.scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            mark = key_node.start_mark
            if not isinstance(key, (str, int, float, bool)):
                if len(self.problems) == reported:
                    self.report(mark, "a key must be a plain word")
                continue
            if key in result:
                first = self.positions[(_KEY,) + location + (key,)]
                self.report(mark, f"duplicate key {key!r}; it is first set on line {first[0]}, keep one of them")
                continue
            self.positions[(_KEY,) + location + (key,)] = (mark.line + 1, mark.column + 1)
            result[key] = self.build(value_node, location + (key,))
        return result
