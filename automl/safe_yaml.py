"""YAML from people we do not know (a `--space` file, a dashboard upload), read with limits.

`yaml.safe_load` builds no Python objects, but it still expands aliases: a few hundred bytes of
nested anchors (the "billion laughs" shape) become billions of values. Search spaces never need
aliases, so they are refused outright, before anything is built; the size, the nesting depth and
the number of values are bounded too. Every refusal is a ConfigError that names the file.
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from automl.data.special_files import special_kind
from automl.errors import ConfigError

MAX_YAML_BYTES = 256 * 1024  # the default spaces are ~3 KB
MAX_DEPTH = 20
MAX_VALUES = 20_000


def read_yaml_file(path: str | os.PathLike, what: str = "Search space file") -> Any:
    """The document in `path`, read with the limits of `load_untrusted_yaml` (a huge file is never read whole)."""
    where = str(path)
    special = special_kind(path)  # before it is opened: a FIFO would block, a device never end
    if special:
        raise ConfigError(f"{what} {where!r} is {special}, not a regular file. Give a YAML file.")
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{what} {where!r} cannot be read: {exc.strerror or exc}.") from None
    return load_untrusted_yaml(raw, where, what)


def load_untrusted_yaml(raw: bytes | str, where: str = "<upload>", what: str = "Search space file") -> Any:
    """Plain data (mappings, lists, scalars) from YAML text, or a ConfigError naming `where`."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if len(data) > MAX_YAML_BYTES:
        raise ConfigError(
            f"{what} {where!r} is over the limit of {MAX_YAML_BYTES // 1024} KB for a search space. "
            "Keep only the parameters you search."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{what} {where!r} is not UTF-8 text (byte {exc.start}). Save it as UTF-8."
        ) from None
    try:
        _check_events(text, where, what)
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {where!r} is not valid YAML: {exc}") from None


def _check_events(text: str, where: str, what: str) -> None:
    """Walk the parser's events (nothing is built yet): no aliases, bounded depth and value count."""
    depth = values = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark else "?"
        if isinstance(event, yaml.AliasEvent):
            raise ConfigError(
                f"{what} {where!r} uses the YAML alias *{event.anchor} (line {line}). Aliases are refused: "
                "a search space does not need them, and nested ones can expand a small file into billions "
                "of values. Write the values out instead."
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError(
                    f"{what} {where!r} nests deeper than {MAX_DEPTH} levels (line {line}). "
                    "A search space is a mapping of parameters, each a flat mapping."
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if isinstance(event, yaml.NodeEvent):
            values += 1
            if values > MAX_VALUES:
                raise ConfigError(
                    f"{what} {where!r} holds more than {MAX_VALUES} values. Keep only the parameters you search."
                )
