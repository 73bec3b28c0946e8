"""Untrusted YAML (a --space file, a dashboard upload): no aliases, bounded size, nesting and values."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml

from automl.errors import ConfigError
from automl.safe_yaml import MAX_DEPTH, MAX_VALUES, MAX_YAML_BYTES, load_untrusted_yaml, read_yaml_file
from automl.search.space import SearchSpace, default_space_path
from tests.unit.test_cli_checks import BILLION_LAUGHS


@pytest.mark.parametrize("modality", ["tabular", "image"])
def test_the_default_spaces_read_as_before(modality: str) -> None:
    path = default_space_path(modality)
    assert read_yaml_file(path) == yaml.safe_load(path.read_text(encoding="utf-8"))


def test_a_billion_laughs_file_is_refused_quickly_by_the_space_loader(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(BILLION_LAUGHS)
    assert len(BILLION_LAUGHS) < 500
    start = time.perf_counter()
    with pytest.raises(
        ConfigError,
        match=f"^{re.escape(f'Search space file {str(path)!r} uses the YAML alias *a (line 2).')}",
    ):
        SearchSpace.load(path)
    assert time.perf_counter() - start < 1.0


def test_a_merge_key_needs_an_alias_and_is_refused() -> None:
    text = "base: &base {type: int, low: 0, high: 3}\nparameters:\n  depth:\n    <<: *base\n"
    with pytest.raises(ConfigError, match=re.escape("'up.yaml' uses the YAML alias *base (line 4).")):
        load_untrusted_yaml(text, "up.yaml")


def test_an_anchor_without_alias_is_harmless() -> None:
    assert load_untrusted_yaml("a: &x 1\n") == {"a": 1}


def test_nesting_is_bounded() -> None:
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    message = (
        f"Search space file 'up.yaml' nests deeper than {MAX_DEPTH} levels (line 1). "
        "A search space is a mapping of parameters, each a flat mapping."
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        load_untrusted_yaml(deep, "up.yaml")
    assert load_untrusted_yaml("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None


def test_the_number_of_values_is_bounded() -> None:
    text = "[" + ",".join("1" for _ in range(MAX_VALUES)) + "]"
    message = f"Search space file 'up.yaml' holds more than {MAX_VALUES} values. Keep only the parameters you search."
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        load_untrusted_yaml(text, "up.yaml")


def test_the_size_is_bounded_and_a_huge_file_is_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (50 * MAX_YAML_BYTES))
    message = (
        f"Search space file {str(path)!r} is over the limit of {MAX_YAML_BYTES // 1024} KB for a search space. "
        "Keep only the parameters you search."
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        read_yaml_file(path)


@pytest.mark.parametrize(
    "text",
    ["!!python/object/apply:os.system ['echo hi']", "a: !!python/name:os.system"],
)
def test_python_tags_build_nothing(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^Search space file 'up\.yaml' is not valid YAML: "):
        load_untrusted_yaml(text, "up.yaml")


def test_bytes_that_are_not_utf8() -> None:
    with pytest.raises(
        ConfigError, match=re.escape("Search space file 'up.yaml' is not UTF-8 text (byte 3).")
    ):
        load_untrusted_yaml(b"a: \xff\n", "up.yaml")
