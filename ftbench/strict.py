"""The pydantic settings of every file format ftbench reads (submission specs, task
definitions, result records, baseline files): unknown fields are errors, models are frozen,
and validators are built on first use.

A field's documentation is the docstring under it. It becomes the field's ``description`` in
the published JSON Schema (``ftbench schema``), read from the source only when a schema is
made (:func:`describe_fields`): pydantic's ``use_attribute_docstrings`` reads the source of
every model class when the class is made, 30-60 ms of every ``ftbench build``, which never
needs it.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict


def describe_fields(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Give each of the schema's properties that has none the docstring of its field
    (pydantic calls this once for each model, as it makes a schema)."""
    docs = field_docs(model)
    for name, field in model.model_fields.items():
        key = field.serialization_alias or field.alias or name
        prop = schema.get("properties", {}).get(key)
        if isinstance(prop, dict) and name in docs and "description" not in prop:
            prop["description"] = docs[name]


@cache
def field_docs(model: type) -> dict[str, str]:
    """The docstring of each field (an annotated name followed by a string) of ``model``
    and of the classes it inherits from (a field it declares again takes its own)."""
    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if cls is object or cls.__module__.startswith("pydantic"):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(cls))
        except (OSError, TypeError):  # made at run time: no source to read
            continue
        body = ast.parse(source).body[0]
        if not isinstance(body, ast.ClassDef):
            continue
        for node, after in zip(body.body, body.body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


STRICT = ConfigDict(extra="forbid", frozen=True, defer_build=True, json_schema_extra=describe_fields)
"""The settings every input model uses (``model_config = STRICT``)."""
