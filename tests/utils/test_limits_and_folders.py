"""The server's bounds (utils/limits.py), the Keras vocabularies, and path confinement (utils/userdata.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from antinex.utils.limits import LIMITS, Limits
from antinex.utils.request import (ACTIVATIONS, INITIALIZERS, LOSSES, METRIC_NAMES, OPTIMIZERS, RequestError,
                           count_parameters, parse_request)
from antinex.utils.userdata import DataSpace, plain_file_name

ROOT = Path(__file__).resolve().parents[2]


def test_limits_from_the_environment_and_refused_when_malformed():
    assert Limits.from_env({"ANTINEX_MAX_EPOCHS": "7", "ANTINEX_JOB_TIME_LIMIT": "2.5"}).max_epochs == 7
    assert Limits.from_env({"ANTINEX_JOB_TIME_LIMIT": "2.5"}).job_time_limit == 2.5
    for bad in ("x", "0", "-3"):
        with pytest.raises(ValueError, match="ANTINEX_MAX_EPOCHS"):
            Limits.from_env({"ANTINEX_MAX_EPOCHS": bad})


def test_every_limit_is_documented():
    doc = (ROOT / "docs" / "users-and-limits.md").read_text()
    for env, _value, _meaning in LIMITS.describe():
        assert f"`{env}`" in doc, env


def test_every_listed_name_is_one_keras_accepts():
    import keras

    for name in ACTIVATIONS:
        keras.activations.get(name)
    for name in INITIALIZERS:
        keras.initializers.get({"uniform": "random_uniform", "normal": "random_normal"}.get(name, name))
    for name in LOSSES:
        keras.losses.get(name)
    for name in OPTIMIZERS:
        keras.optimizers.get(name)
    from antinex.utils.model_builder import METRICS

    for name in METRIC_NAMES:
        keras.metrics.get(METRICS.get(name, name))


def test_names_are_normalised_and_unknown_ones_refused():
    req = parse_request({"loss": "MSE", "optimizer": "Adam",
                         "model_desc": {"layers": [{"num_neurons": 2, "activation": "ReLU", "init": "Uniform"}]}})
    assert (req.loss, req.optimizer) == ("mse", "adam")
    assert req.model_desc["layers"][0] == {"num_neurons": 2, "activation": "relu", "init": "uniform"}
    with pytest.raises(RequestError) as exc:
        parse_request({"model_desc": {"layers": [{"num_neurons": 2, "init": {"class_name": "Zeros"}}]}})
    assert exc.value.field == "model_desc.layers[0].init"


def test_bounds_apply_only_when_asked():
    body = {"epochs": 5000, "predict_rows": [{"a": 1}] * 3}
    assert parse_request(body).epochs == 5000  # the offline CLI: your machine, your epochs
    with pytest.raises(RequestError) as exc:
        parse_request(body, limits=Limits(max_epochs=10))
    assert exc.value.field == "epochs" and "10" in exc.value.reason
    with pytest.raises(RequestError) as exc:
        parse_request({"seed": 2**40})  # NumPy cannot take it, whatever the server says
    assert exc.value.field == "seed"


def test_parameter_count():
    assert count_parameters(3, {"layers": [{"num_neurons": 4}, {"layer_type": "dropout", "rate": 0.1},
                                           {"num_neurons": 1}]}) == (3 + 1) * 4 + (4 + 1) * 1


@pytest.fixture()
def space(tmp_path) -> DataSpace:
    shared = tmp_path / "datasets"
    (shared / "users" / "user_1").mkdir(parents=True)
    (shared / "users" / "user_2").mkdir(parents=True)
    (shared / "sample.csv").write_text("a\n1\n")
    (shared / "users" / "user_1" / "mine.csv").write_text("a\n1\n")
    (shared / "users" / "user_2" / "theirs.csv").write_text("a\n1\n")
    (tmp_path / "outside.csv").write_text("a\n1\n")
    os.symlink(tmp_path / "outside.csv", shared / "link.csv")
    os.symlink(shared / "users" / "user_2" / "theirs.csv", shared / "users" / "user_1" / "link.csv")
    return DataSpace.build([shared], shared / "users", 1)


def test_reads_own_folder_and_shared_data_only(space):
    assert space.read_path("dataset", "mine.csv").name == "mine.csv"
    assert space.read_path("dataset", "sample.csv").name == "sample.csv"
    refused = [str(space.own.parent / "user_2" / "theirs.csv"), "../user_2/theirs.csv", "link.csv",
               str(space.shared[0].parent / "outside.csv"), "users/user_2/theirs.csv", "/etc/passwd"]
    for value in refused:
        with pytest.raises(RequestError) as exc:
            space.read_path("dataset", value)
        assert exc.value.field == "dataset", value
    with pytest.raises(RequestError):  # a link in her own folder to another user's file
        space.read_path("dataset", "link.csv")


def test_writes_only_in_own_folder(space):
    assert space.write_path("full_file", "out/x.csv") == space.own / "out" / "x.csv"
    for value in ("../user_2/x.csv", str(space.shared[0] / "x.csv"), "/tmp/x.csv", str(space.own)):
        with pytest.raises(RequestError):
            space.write_path("full_file", value)


def test_glob_skips_other_users_and_links_out(space):
    found = space.glob("ds_glob_path", str(space.shared[0] / "**" / "*.csv"))
    names = sorted(p.name for p in found)
    assert names == ["mine.csv", "sample.csv"], names


def test_public_paths_and_redaction(space):
    assert space.public(space.own / "prepared" / "c.csv") == "prepared/c.csv"
    assert space.public(space.shared[0] / "sample.csv") == "sample.csv"
    text = space.redact(f"cannot read {space.shared[0]}/x.csv or /opt/secret/place/y.csv")
    assert str(space.shared[0]) not in text and "/opt/secret" not in text and "y.csv" in text


@pytest.mark.parametrize("value", ["metadata.json", "v2_meta-1.json"])
def test_plain_file_names(value):
    assert plain_file_name("meta_suffix", value) == value


@pytest.mark.parametrize("value", ["z/../../x.json", "../x", ".hidden", "a/b", "", "x" * 200, 5, "..json"])
def test_not_plain_file_names(value):
    with pytest.raises(RequestError) as exc:
        plain_file_name("meta_suffix", value)
    assert exc.value.field == "meta_suffix"


def test_glob_never_walks_outside_the_readable_roots(space, monkeypatch):
    import glob as globmod

    walked = []
    real = globmod.iglob
    monkeypatch.setattr(globmod, "iglob", lambda p, **kw: walked.append(p) or real(p, **kw))
    for pattern in ("/**/*.csv", "/etc/*", str(space.users_root / "*" / "*.csv")):
        with pytest.raises(RequestError):
            space.glob("ds_glob_path", pattern)
    assert walked == [], walked
    with pytest.raises(RequestError, match="more than 1 files"):
        space.glob("ds_glob_path", str(space.shared[0] / "**" / "*.csv"), max_files=1)
