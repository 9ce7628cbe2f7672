"""A small JSON Schema checker for the keywords Shunter's config schema uses.

The config tests validate documents against ``bot.core.config.config_schema()`` with it;
each error is one line naming the JSON path, so a test can show which key is wrong.
"""

from __future__ import annotations

import re
from typing import Any


def schema_errors(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """Return why ``value`` fails ``schema`` (the JSON Schema keywords Shunter's schema uses)."""
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        checks = {
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
        }
        wanted = [types] if isinstance(types, str) else types
        if not any(checks[t](value) for t in wanted):
            return [f"{path}: {value!r} is not {types}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: {value!r} != {schema['const']!r}")
    if "enum" in schema and not any(value == e and type(value) is type(e) for e in schema["enum"]):
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: too short")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: too long")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: below minimum")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: above maximum")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: too few items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += schema_errors(schema["items"], item, f"{path}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing {key}")
        for key, item in value.items():
            if key in props:
                errors += schema_errors(props[key], item, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unknown key {key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += schema_errors(schema["additionalProperties"], item, f"{path}.{key}")
    for sub in schema.get("allOf", []):
        errors += schema_errors(sub, value, path)
    if "anyOf" in schema and all(schema_errors(s, value, path) for s in schema["anyOf"]):
        errors.append(f"{path}: matches none of anyOf")
    if "oneOf" in schema:
        passing = [s for s in schema["oneOf"] if not schema_errors(s, value, path)]
        if len(passing) != 1:
            errors.append(f"{path}: matches {len(passing)} of oneOf")
    if "not" in schema and not schema_errors(schema["not"], value, path):
        errors.append(f"{path}: matches a forbidden schema")
    if "if" in schema and not schema_errors(schema["if"], value, path):
        errors += schema_errors(schema.get("then", {}), value, path)
    return errors
