"""The registry, model lookup and the JSON Schema each model publishes."""

from __future__ import annotations

import json

import pytest
from catalog_cases import ALL, ASYNC, BASE, JOB, args

from stillmotion.catalog import MODELS, get_model
from stillmotion.dialects import async_task
from stillmotion.dialects import job as job_dialect
from stillmotion.errors import FieldInvalid


def test_registry_ids_and_the_dialects_that_sell_them():
    assert list(MODELS) == list(ALL)
    assert job_dialect.MODELS == set(JOB) and async_task.MODELS == set(ASYNC)
    assert MODELS["vidu-q3-pro-i2v"].task_type == "VIDU_Q3_PRO_I2V"
    assert MODELS["vidu-q3-turbo-i2v"].task_type == "VIDU_Q3_TURBO_I2V"
    assert len({e.task_type for e in MODELS.values()}) == 5
    assert all(e.engine == "motion" for e in MODELS.values())
    with pytest.raises(TypeError):
        MODELS["x"] = MODELS[ALL[0]]  # type: ignore[index]


@pytest.mark.parametrize("model_id", ALL)
def test_get_model(model_id):
    entry = get_model(model_id)
    assert entry.id == model_id
    assert get_model(model_id, among=[model_id]) is entry


@pytest.mark.parametrize("bad", ["vidu/vidu-q9/image-to-video", "", "VIDU-Q3-PRO-I2V"])
def test_unknown_model_names_the_known_ids(bad):
    with pytest.raises(FieldInvalid) as info:
        get_model(bad)
    assert info.value.field == "model"
    assert info.value.message.startswith("model: unknown model")
    for mid in ALL:
        assert mid in info.value.message


def test_model_of_the_other_dialect_is_unknown_there():
    with pytest.raises(FieldInvalid) as info:
        get_model("vidu-q3-pro-i2v", among=job_dialect.MODELS)
    assert "vidu/vidu-q3/image-to-video" in info.value.message
    assert "vidu-q3-turbo-i2v" not in info.value.message


@pytest.mark.parametrize("bad", [None, 5, ["x"]])
def test_model_id_must_be_a_string(bad):
    with pytest.raises(FieldInvalid) as info:
        get_model(bad)
    assert info.value.message.startswith("model: must be a string")


@pytest.mark.parametrize("model_id", ALL)
def test_json_schema(model_id):
    m = get_model(model_id)
    schema = m.json_schema()
    json.dumps(schema)
    assert schema["type"] == "object" and schema["title"] == model_id
    assert set(schema["required"]) == {k for k in BASE[model_id] if k != "prompt" or model_id in JOB}
    assert schema["properties"]["duration"]["default"] == 5
    assert schema["properties"]["resolution"]["default"] == "720p"
    # every published default is accepted and kept as is
    for name, prop in schema["properties"].items():
        if "default" in prop:
            assert m.validate(args(model_id, **{name: prop["default"]}))[name] == prop["default"]


def test_json_schema_cross_field_rules():
    rules = get_model("vidu/vidu-q2/image-to-video").json_schema()["allOf"]
    assert {"if": {"properties": {"generate_audio": {"const": True}}, "required": ["generate_audio"]},
            "then": {"required": ["voice_id"]}} in rules
    assert any(r["then"].get("properties", {}).get("resolution") == {"not": {"const": "540p"}} for r in rules)
    assert get_model("vidu-q3-pro-i2v").json_schema()["properties"]["wm_position"]["enum"][:4] == [
        "top-left", "top-right", "bottom-left", "bottom-right"]
