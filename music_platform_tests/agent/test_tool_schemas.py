"""Every tool's schema is valid JSON Schema and valid for strict function calling."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from music_platform.lib.agent.tools import TOOLS, Tool

# What strict function calling accepts in a schema (OpenAI's structured outputs subset).
STRICT_KEYWORDS = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "description",
    "enum",
    "anyOf",
    "items",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
}
SAMPLES = {"string": "x", "array": ["x"], "integer": 1}


def _objects(schema: Any) -> list[dict[str, Any]]:
    """Every schema nested in `schema`, itself included."""
    if isinstance(schema, list):
        return [found for item in schema for found in _objects(item)]
    if not isinstance(schema, dict):
        return []
    nested = [schema]
    for key in ("properties",):
        nested += [found for value in schema.get(key, {}).values() for found in _objects(value)]
    for key in ("items", "anyOf"):
        nested += _objects(schema.get(key))
    return nested


def _nullable(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type")
    return (isinstance(kinds, list) and "null" in kinds) or {"type": "null"} in schema.get(
        "anyOf", []
    )


@pytest.mark.parametrize("tool", TOOLS, ids=lambda tool: tool.name)
def test_the_schema_is_strict(tool: Tool) -> None:
    spec = tool.openai_spec()["function"]
    assert spec["strict"] is True
    schema = spec["parameters"]
    Draft202012Validator.check_schema(schema)
    for nested in _objects(schema):
        assert set(nested) <= STRICT_KEYWORDS, (tool.name, set(nested) - STRICT_KEYWORDS)
        if nested.get("type") == "object":
            assert nested["additionalProperties"] is False
            assert set(nested["required"]) == set(nested["properties"])
    # What the arguments model does not require is nullable, null standing for the default.
    required = set(tool.arguments.model_json_schema().get("required", []))
    for name, property_schema in schema["properties"].items():
        assert _nullable(property_schema) == (name not in required), (tool.name, name)


@pytest.mark.parametrize("tool", TOOLS, ids=lambda tool: tool.name)
def test_null_for_every_optional_argument_is_accepted(tool: Tool) -> None:
    schema = tool.json_schema()
    required = set(tool.arguments.model_json_schema().get("required", []))
    arguments = {
        name: SAMPLES[schema["properties"][name]["type"]] if name in required else None
        for name in schema["properties"]
    }
    Draft202012Validator(schema).validate(arguments)
    # The toolbox reads null as the default.
    defaults = {name: value for name, value in arguments.items() if value is not None}
    assert tool.arguments.model_validate(defaults)
