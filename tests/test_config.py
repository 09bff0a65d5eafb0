"""Typed configs: round trips through dicts, JSON and YAML; errors name the file and the field."""

from dataclasses import dataclass, field
from typing import Literal

import pytest

from rnnkit.config import ConfigError, from_dict, load_config, save_config, to_dict
from rnnkit.layers.factory import RNNConfig


@dataclass(frozen=True)
class Inner:
    size: int = 3
    rate: float = 0.5


@dataclass(frozen=True)
class Outer:
    name: str
    kind: Literal["a", "b"] = "a"
    sizes: tuple[int, ...] = (1, 2)
    pair: tuple[float, float] | float = 0.0
    inner: Inner = field(default_factory=Inner)
    optional: int | None = None


def test_round_trip_through_dict_json_and_yaml(tmp_path):
    config = Outer("x", "b", (4, 5, 6), (0.1, 0.2), Inner(7, 1.5), 9)
    assert from_dict(Outer, to_dict(config)) == config
    for suffix in (".json", ".yaml"):
        path = tmp_path / f"config{suffix}"
        save_config(config, path)
        assert load_config(Outer, path) == config


def test_ints_are_accepted_for_floats_but_not_bools_for_ints():
    assert from_dict(Outer, {"name": "x", "inner": {"rate": 2}}).inner.rate == 2.0
    with pytest.raises(ConfigError, match=r"Inner.size: expected int, got bool True"):
        from_dict(Outer, {"name": "x", "inner": {"size": True}})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x", "nmae": 1}, r"cfg.yaml: unknown key 'nmae' in Outer \(known: inner, kind, name"),
        ({}, r"cfg.yaml: missing key 'name' in Outer"),
        ({"name": 3}, r"cfg.yaml: Outer.name: expected str, got int 3"),
        ({"name": "x", "kind": "c"}, r"Outer.kind: expected one of \['a', 'b'\], got 'c'"),
        ({"name": "x", "sizes": "12"}, r"Outer.sizes: expected a list, got str"),
        (
            {"name": "x", "inner": {"size": 1, "extra": 2}},
            r"cfg.yaml: Outer.inner: unknown key 'extra' in Inner",
        ),
        ([1, 2], r"cfg.yaml: expected a mapping for Outer, got list"),
    ],
)
def test_bad_values_name_the_file_and_field(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(Outer, data, where="cfg.yaml")


def test_validation_errors_of_the_dataclass_name_the_file():
    with pytest.raises(ConfigError, match=r"run.yaml: RNNConfig.peephole does not apply to cell='gru'"):
        from_dict(RNNConfig, {"cell": "gru", "peephole": True}, where="run.yaml")


def test_unparsable_files_name_the_file(tmp_path):
    bad_json, bad_yaml = tmp_path / "a.json", tmp_path / "b.yaml"
    bad_json.write_text("{not json")
    bad_yaml.write_text("cell: [unclosed")
    with pytest.raises(ConfigError, match=r"a.json: not valid JSON"):
        load_config(RNNConfig, bad_json)
    with pytest.raises(ConfigError, match=r"b.yaml: cannot parse"):
        load_config(RNNConfig, bad_yaml)


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "sub" / "config.json"
    save_config(RNNConfig(hidden_size=8), path)
    save_config(RNNConfig(hidden_size=9), path)
    assert load_config(RNNConfig, path).hidden_size == 9
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]
