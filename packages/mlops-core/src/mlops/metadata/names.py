"""The name policy: which user-given strings may become a folder or file name in a store.

Versions, tensor names and aliases each become one path segment, on local disks of
every operating system, on object stores and through fsspec. A name is refused, never changed, when:

- it is empty, holds a path separator (``/`` ``\\``) or ``..``, or starts with ``.`` (hidden names
  are mlops' bookkeeping);
- it holds a glob character ``* ? [ ] { }`` (fsspec and shells read those as patterns);
- it holds a control, format, surrogate or line/paragraph separator character (Unicode categories
  Cc, Cf, Cs, Zl, Zp: zero-width spaces, bidi overrides...), or whitespace other than a plain space
  (U+0020), or starts or ends with whitespace: these make different names look the same;
- it holds a Unicode noncharacter (U+FFFE, U+FFFF, U+FDD0-U+FDEF...), which S3's XML requests cannot carry;
- it ends with ``.`` (Windows drops a trailing dot), or its part before the first ``.`` is a Windows
  device name (CON, PRN, AUX, NUL, CONIN$, CONOUT$, COM1-COM9, LPT1-LPT9, any case);
- it is not in Unicode normalization form NFC (the same-looking NFC name would be another folder);
- it takes more than 200 bytes in UTF-8.

A version may not be named ``_aliases`` (:data:`ALIASES_FOLDER`, where a root keeps its aliases),
and an alias may not hold ``@`` (``ROOT@ALIAS`` names the version an alias points to).

The policy applies when writing: versions published under older rules keep loading. Dataset and
model names and tags are metadata, not paths; they are checked by :func:`check_name` and
:func:`check_tags` with the same rule on invisible characters.

This module is part of the format layer: it imports only the standard library and :mod:`mlops.errors`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from mlops.errors import InvalidAliasError, InvalidNameError, InvalidTagsError, InvalidVersionError, TensorNameError

__all__ = [
    "ALIASES_FOLDER",
    "GLOB_CHARACTERS",
    "INVISIBLE_CATEGORIES",
    "MAX_LABEL_CHARACTERS",
    "MAX_NAME_BYTES",
    "WINDOWS_DEVICE_NAMES",
    "check_alias",
    "check_name",
    "check_tags",
    "check_tensor_name",
    "check_version",
    "is_noncharacter",
    "label_problem",
    "path_segment_problem",
]

ALIASES_FOLDER = "_aliases"
"""The folder of a publication root holding its aliases' records: never a version's name."""
MAX_NAME_BYTES = 200
"""Longest name, in UTF-8 bytes: with a suffix such as ``.zarr`` it stays under the 255-byte file
name limit of common filesystems."""
MAX_LABEL_CHARACTERS = 200
"""Longest dataset or model name or tag, in characters (metadata, not a path)."""
GLOB_CHARACTERS = "*?[]{}"
"""Characters fsspec's pattern expansion and shells treat specially."""
INVISIBLE_CATEGORIES = {
    "Cc": "control",
    "Cf": "format",
    "Cs": "surrogate",
    "Zl": "line separator",
    "Zp": "paragraph separator",
}
"""Unicode categories refused in every name and label, with what to call them in a message."""
WINDOWS_DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{n}" for port in ("COM", "LPT") for n in "123456789\u00b9\u00b2\u00b3"}
)
"""Names Windows reserves for devices, with or without an extension (as CPython's ``ntpath.isreserved``)."""
_TENSOR_CHARACTERS = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}")
"""Tensor names also become attribute-like keys (``dataset.X_train``): a portable ASCII subset."""

_VERSION_ADVICE = "Use a plain name such as 'v1' or '2024-01-31', or version=None for the publication timestamp."
_TENSOR_ADVICE = "Rename it in the processor's output (e.g. 'X_train')."


def path_segment_problem(name: str) -> str | None:
    """Why ``name`` cannot be one folder or file name in a store, as a clause that follows "it"
    ("contains the glob character '*' ..."), or ``None`` when it can."""
    for check in _SEGMENT_CHECKS:
        problem = check(name)
        if problem is not None:
            return problem
    return None


def label_problem(text: str) -> str | None:
    """Why ``text`` cannot be a dataset or model name or a tag (metadata, not a path), or ``None``."""
    return _blank(text) or _invisible(text) or _too_many_characters(text)


def check_version(version: Any) -> str:
    """``version`` if it may name a version folder; else :class:`~mlops.errors.InvalidVersionError`."""
    messages = _noun_messages("a", "version", "v1", _VERSION_ADVICE)
    return _checked(version, _aliases_folder, InvalidVersionError, *messages, segment=True)


def check_alias(alias: Any) -> str:
    """``alias`` if it may name an alias (one folder under ``ROOT/_aliases``, written after ``@`` in
    ``ROOT@ALIAS``); else :class:`~mlops.errors.InvalidAliasError`."""
    messages = _noun_messages("an", "alias", "production", "Use a plain name such as 'production'.")
    return _checked(alias, _at_sign, InvalidAliasError, *messages, segment=True)


def check_tensor_name(name: Any) -> str:
    """``name`` if it may name a tensor's file; else :class:`~mlops.errors.TensorNameError`.

    The path policy first (so the message names the rule broken), then the tensor names' own
    character set: ASCII letters, digits, ``_``, ``-`` and ``.``, at most 100 characters."""
    return _checked(
        name,
        _tensor_characters,
        TensorNameError,
        lambda value: f"tensor names must be strings, got {value!r}",
        lambda value, problem: f"tensor name {value!r} is not a safe file name: it {problem}. {_TENSOR_ADVICE}",
        segment=True,
    )


def check_name(name: Any, *, default_from: str | None = None) -> str:
    """``name`` if it may be a dataset's or model's name; else :class:`~mlops.errors.InvalidNameError`.

    ``default_from`` says where a name the user did not give came from (e.g. "the root folder's
    name"), so the message can tell them to pass ``name=``."""
    origin = f" ({default_from}, used as the name by default; pass name='...')" if default_from else ""
    return _checked(
        name,
        label_problem,
        InvalidNameError,
        lambda value: f"a name must be a string, got {type(value).__name__}",
        lambda value, problem: f"invalid name {value!r}{origin}: it {problem}",
    )


def check_tags(tags: Any) -> list[str]:
    """``tags`` as a list of valid labels (``None`` means no tags); else :class:`~mlops.errors.InvalidTagsError`."""
    if tags is None:
        return []
    if isinstance(tags, str) or not isinstance(tags, Iterable):
        raise InvalidTagsError(f"tags must be a list of strings such as ['image', 'prototype'], got {tags!r}")
    return [
        _checked(
            tag,
            label_problem,
            InvalidTagsError,
            lambda value: f"invalid tag {value!r}: tags must be strings",
            lambda value, problem: f"invalid tag {value!r}: it {problem}",
        )
        for tag in tags
    ]


def _noun_messages(
    article: str, noun: str, example: str, advice: str
) -> tuple[Callable[[Any], str], Callable[[str, str], str]]:
    """The two messages of a check (not a string, refused) for a thing called ``noun`` (e.g. "a",
    "version", "v1"); ``advice`` ends the refusal."""
    return (
        lambda value: f"{article} {noun} must be a string such as {example!r}, got {type(value).__name__}",
        lambda value, problem: f"invalid {noun} {value!r}: it {problem}. {advice}",
    )


def _checked(
    value: Any,
    problem_of: Callable[[str], str | None],
    error: type[Exception],
    not_a_string: Callable[[Any], str],
    refusal: Callable[[str, str], str],
    *,
    segment: bool = False,
) -> str:
    """``value`` if it is a string in which ``problem_of`` finds no problem; else ``error`` with
    the message ``not_a_string(value)`` or ``refusal(value, problem)``: every check above.
    ``segment``: the path policy (:func:`path_segment_problem`) is checked first."""
    if not isinstance(value, str):
        raise error(not_a_string(value))
    problem = (path_segment_problem(value) if segment else None) or problem_of(value)
    if problem is not None:
        raise error(refusal(value, problem))
    return value


# --- the rules, each a function returning a clause or None ------------------------------------------


def _aliases_folder(name: str) -> str | None:
    return f"is {ALIASES_FOLDER!r}, the folder where a root keeps its aliases" if name == ALIASES_FOLDER else None


def _at_sign(name: str) -> str | None:
    return "contains '@', which separates the root from the alias in ROOT@ALIAS" if "@" in name else None


def _describe(char: str) -> str:
    return f"U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')})"


def _blank(name: str) -> str | None:
    return "is empty" if not name.strip() else None


def _invisible(name: str) -> str | None:
    for char in name:
        category = unicodedata.category(char)
        if category in INVISIBLE_CATEGORIES:
            return (
                f"contains {_describe(char)}, a {INVISIBLE_CATEGORIES[category]} character (Unicode category "
                f"{category}) that is invisible or unprintable and would let different names look alike; remove it"
            )
    return None


def is_noncharacter(char: str) -> bool:
    """True for Unicode's 66 noncharacters (U+FDD0-U+FDEF and the last two code points of each plane)."""
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def _noncharacter(name: str) -> str | None:
    for char in name:
        if is_noncharacter(char):
            return (
                f"contains U+{ord(char):04X}, a Unicode noncharacter (reserved for a program's internal use; "
                "XML-based store requests, such as S3's batch delete, cannot carry it); remove it"
            )
    return None


def _odd_whitespace(name: str) -> str | None:
    for char in name:
        if char != " " and (char.isspace() or unicodedata.category(char) == "Zs"):
            return (
                f"contains the whitespace character {_describe(char)}, which looks like a space but is another "
                "name; only a plain space (U+0020) may appear inside a name"
            )
    return None


def _edge_whitespace(name: str) -> str | None:
    if name[:1].isspace():
        return "starts with a space; remove it"
    if name[-1:].isspace():
        return "ends with a space; remove it"
    return None


def _separator(name: str) -> str | None:
    for char in "/\\":
        if char in name:
            return f"contains the path separator {char!r}"
    return None


def _parent(name: str) -> str | None:
    return "contains '..'" if ".." in name else None


def _hidden(name: str) -> str | None:
    return "starts with '.' (hidden names are reserved for mlops' bookkeeping)" if name.startswith(".") else None


def _trailing_dot(name: str) -> str | None:
    return "ends with '.', which Windows silently drops from file names" if name.endswith(".") else None


def _glob(name: str) -> str | None:
    for char in name:
        if char in GLOB_CHARACTERS:
            return (
                f"contains the glob character {char!r} (fsspec and shells read * ? [ ] {{ }} as patterns, "
                "which could match other versions' files)"
            )
    return None


def _device(name: str) -> str | None:
    base = name.partition(".")[0].rstrip(" ").upper()
    if base not in WINDOWS_DEVICE_NAMES:
        return None
    return (
        f"is the Windows device name {base!r} (CON, PRN, AUX, NUL, COM1-COM9, LPT1-LPT9, CONIN$ and CONOUT$ "
        "cannot name a file or folder on Windows, in any case and with or without an extension)"
    )


def _not_nfc(name: str) -> str | None:
    if unicodedata.is_normalized("NFC", name):
        return None
    nfc = unicodedata.normalize("NFC", name)
    return (
        f"is not in Unicode normalization form NFC ({ascii(name)}), so it would look like, yet differ from, "
        f"the same name written the usual way; mlops refuses it rather than change it: use {nfc!r} "
        f"({ascii(nfc)}), i.e. unicodedata.normalize('NFC', name)"
    )


def _too_long(name: str) -> str | None:
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        return (
            f"is {size} bytes long in UTF-8 ({len(name)} characters); a name may take at most {MAX_NAME_BYTES} "
            "bytes (characters outside ASCII take 2 to 4 bytes each): shorten it"
        )
    return None


def _tensor_characters(name: str) -> str | None:
    if _TENSOR_CHARACTERS.fullmatch(name):
        return None
    if len(name) > 100:
        return f"is {len(name)} characters long; tensor names may have at most 100"
    bad = next((c for c in name if not _TENSOR_CHARACTERS.fullmatch("_" + c)), None)
    if bad is not None:
        return (
            f"contains {_describe(bad)}; tensor names use only ASCII letters, digits, '_', '-' and '.', "
            "starting with a letter, digit or '_'"
        )
    return "does not start with a letter, digit or '_'"


def _too_many_characters(text: str) -> str | None:
    if len(text) > MAX_LABEL_CHARACTERS:
        return f"is longer than {MAX_LABEL_CHARACTERS} characters"
    return None


_SEGMENT_CHECKS = (
    _blank,
    _invisible,  # before anything encodes the name: a lone surrogate has no UTF-8 form
    _noncharacter,
    _odd_whitespace,
    _edge_whitespace,
    _separator,
    _parent,
    _hidden,
    _trailing_dot,
    _glob,
    _device,
    _not_nfc,
    _too_long,
)
