"""JSON text built column by column with Arrow compute, for the importer's prediction data.

A job type's ``prediction_columns`` turns a whole chunk's rows into their data as JSON text at
once, instead of a dict and a ``json.dumps`` per row (half of a large import's time in Python,
docs/performance.md). The text is valid JSON for the same value as ``json.dumps`` gives; it
keeps non-ASCII characters as they are (``json.dumps(..., ensure_ascii=False)``) instead of
``\\uXXXX`` escapes.

Constants are Arrow scalars made once: pyarrow converts a Python value passed to a compute
function at every call, and each conversion tried to import ``dateutil`` (a failed import is
not cached): ~0.5 ms a call, more than the string work of 5,000 rows.
"""

from __future__ import annotations

import json
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

# Characters JSON forbids unescaped in a string (U+0000 to U+001F); RE2 syntax.
_CONTROL = r"[\x00-\x1f]"
_QUOTE, _EMPTY, _NULL = pa.scalar('"'), pa.scalar(""), pa.scalar("null")
_TRUE, _FALSE = pa.scalar("true"), pa.scalar("false")
_NO = pa.scalar(False)
_ZERO = pa.scalar(0, pa.int32())
_ENCODE = json.encoder.c_encode_basestring or json.encoder.py_encode_basestring


def text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each string as a JSON string literal (quoted, escaped); a null as ``null``."""
    values = _array(values).cast(pa.string())
    if pc.any(pc.match_substring_regex(values, _CONTROL)).as_py():
        # Rare (a newline or a tab in a text): the standard encoder for this column, value by value.
        return pa.array(["null" if v is None else _ENCODE(v) for v in values.to_pylist()], pa.string())
    escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    return pc.coalesce(pc.binary_join_element_wise(_QUOTE, escaped, _QUOTE, _EMPTY), _NULL)


def boolean(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each value as Python's ``bool()`` of it in JSON: ``true`` or ``false`` (a null is false)."""
    return pc.if_else(false_if_null(_array(values).cast(pa.bool_())), _TRUE, _FALSE)


def obj(members: list[tuple[str, pa.Array, pa.Array | None]]) -> pa.Array:
    """JSON objects, one per row, of ``(key, value as JSON text, present)`` members in order;
    a member whose ``present`` is false in a row is left out of that row's object (None: always
    present). The first member must always be present."""
    pieces: list[pa.Array | pa.Scalar] = []
    for i, (key, value, present) in enumerate(members):
        if i == 0 and present is not None:
            raise ValueError("the first member of a JSON object column must always be present")
        prefix = _scalar(("{" if i == 0 else ", ") + json.dumps(key) + ": ")
        if present is None:
            pieces += [prefix, value]
        else:
            pieces.append(pc.if_else(present, pc.binary_join_element_wise(prefix, value, _EMPTY), _EMPTY))
    pieces.append(_scalar("}"))
    return pc.binary_join_element_wise(*pieces, _EMPTY)


def truthy(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Python's truth of each string: not null and not empty."""
    return false_if_null(pc.greater(pc.binary_length(_array(values)), _ZERO))


def false_if_null(values: pa.Array) -> pa.Array:
    """Booleans with nulls as false."""
    return pc.coalesce(values, _NO)


@cache
def _scalar(value: str) -> pa.Scalar:
    return pa.scalar(value)


def _array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
