"""The request and response models of ``lightkit serve``, built from the data module's serving schema.

A data module describes one request row with :meth:`serving_schema` (see :mod:`lightkit.serving`):
plain data, so that the data module needs no pydantic. This module turns that description into
pydantic models, which FastAPI uses to validate requests (in the HTTP server processes, before a
request reaches the model) and to describe ``/docs`` and ``/openapi.json``, and it turns
validation errors into short messages that name the row and the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model, model_validator

from lightkit.errors import ConfigError
from lightkit.registry import suggest

__all__ = [
    "FieldSpec",
    "ServingSchema",
    "describe_errors",
    "output_model",
    "request_model",
]

#: the types a request field may have, as in JSON Schema
FIELD_TYPES = ("number", "integer", "string", "boolean", "array")


@dataclass
class FieldSpec:
    """One field of a request row, as a data module's ``serving_schema()`` declares it.

    Attributes:
        name: The field name: the column name of training.
        type: ``number``, ``integer``, ``string``, ``boolean``, or ``array`` (of numbers).
        nullable: Whether ``null`` is accepted (a missing value that the data module fills).
        description: Shown in ``/docs`` and ``/openapi.json``.
        example: A valid value, used in the example request and the printed ``curl`` line.
        categories: For a categorical string field, the values seen in training (others are
            accepted and encoded as unknown, unless the data module refuses them).
        length: For an array, the number of items it must have.
    """

    name: str
    type: str
    nullable: bool = False
    description: str | None = None
    example: Any = None
    categories: list[str] | None = None
    length: int | None = None


@dataclass
class ServingSchema:
    """What a data module says about serving: the row fields, the id field and the label names."""

    fields: list[FieldSpec]
    id_field: str | None = None
    labels: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_datamodule(cls, datamodule: Any) -> ServingSchema:
        """Read and check ``datamodule.serving_schema()``.

        Raises:
            ConfigError: The method returns something that is not a valid serving schema.
        """
        owner = type(datamodule).__name__
        raw = datamodule.serving_schema()
        if not isinstance(raw, dict) or not isinstance(raw.get("fields"), dict) or not raw["fields"]:
            raise ConfigError(
                f"{owner}.serving_schema() must return a dict with a non-empty 'fields' mapping, "
                f"got {type(raw).__name__}",
                "see 'Serving a plugin data module' in docs/serving.md.",
            )
        fields = []
        for name, spec in raw["fields"].items():
            spec = {"type": spec} if isinstance(spec, str) else dict(spec or {})
            kind = spec.pop("type", None)
            if kind not in FIELD_TYPES:
                raise ConfigError(
                    f"{owner}.serving_schema(): field {name!r} has type {kind!r}",
                    f"types are {', '.join(FIELD_TYPES)}.",
                )
            unknown = sorted(set(spec) - {"nullable", "description", "example", "categories", "length"})
            if unknown:
                raise ConfigError(
                    f"{owner}.serving_schema(): field {name!r} has unknown key {unknown[0]!r}",
                    "field keys are type, nullable, description, example, categories and length.",
                )
            fields.append(FieldSpec(name=str(name), type=kind, **spec))
        id_field = raw.get("id_field")
        if id_field is not None and id_field in raw["fields"]:
            raise ConfigError(f"{owner}.serving_schema(): id_field {id_field!r} is also a feature field")
        labels = raw.get("labels")
        extra = {k: v for k, v in raw.items() if k not in ("fields", "id_field", "labels")}
        return cls(fields, id_field, [str(x) for x in labels] if labels else None, extra)

    @property
    def names(self) -> list[str]:
        """The feature field names, in order."""
        return [f.name for f in self.fields]

    def example_row(self) -> dict[str, Any]:
        """One valid row: each field's example, or a neutral value of its type."""
        neutral = {"number": 0.0, "integer": 0, "string": "", "boolean": False}
        row = {}
        for f in self.fields:
            if f.example is not None:
                row[f.name] = f.example
            elif f.type == "array":
                row[f.name] = [0.0] * (f.length or 1)
            elif f.categories:
                row[f.name] = f.categories[0]
            else:
                row[f.name] = None if f.nullable else neutral[f.type]
        return row

    def as_json(self) -> dict[str, Any]:
        """The schema as plain data, for ``/info``."""
        fields = {}
        for f in self.fields:
            entry: dict[str, Any] = {"type": f.type, "nullable": f.nullable}
            for key in ("description", "categories", "length"):
                if getattr(f, key) is not None:
                    entry[key] = getattr(f, key)
            fields[f.name] = entry
        return {"fields": fields, "id_field": self.id_field, "labels": self.labels}


# -- pydantic models ---------------------------------------------------------------------------------
def _plain(data: dict[str, Any]) -> dict[str, Any]:
    return data


class _Plain(BaseModel):
    """A model that pickles as plain data.

    LitServe sends the validated request to a spawned worker, which has no copy of the classes
    built at start-up.
    """

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (_plain, (self.model_dump(by_alias=True, exclude_unset=True),))


def _as_category(value: Any) -> Any:
    """Categories are strings; a number sent for one means its text (``3`` -> ``"3"``)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)) and not (isinstance(value, float) and not math.isfinite(value)):
        return str(value)
    return value


def _annotation(spec: FieldSpec) -> Any:
    if spec.type == "number":
        base: Any = Annotated[float, Field(allow_inf_nan=False)]
    elif spec.type == "integer":
        base = int
    elif spec.type == "boolean":
        base = bool
    elif spec.type == "string":
        base = Annotated[str, BeforeValidator(_as_category)]
    else:
        item = Annotated[float, Field(allow_inf_nan=False)]
        base = Annotated[list[item], Field(min_length=spec.length, max_length=spec.length)]  # type: ignore[valid-type]
    return base | None if spec.nullable else base


def _field_info(spec: FieldSpec, required: bool = True) -> Any:
    description = spec.description or ""
    if spec.categories is not None:
        shown = ", ".join(map(repr, spec.categories[:20])) + (" ..." if len(spec.categories) > 20 else "")
        description = f"{description} Categories seen in training: {shown}.".strip()
    if spec.nullable:
        description = f"{description} null: a missing value.".strip()
    return Field(
        ... if required else None,
        alias=spec.name,
        description=description or None,
        examples=[spec.example] if spec.example is not None else None,
    )


def request_model(schema: ServingSchema, title: str) -> type[BaseModel]:
    """``{"rows": [Row, ...]}``, or one row as a bare object; rows have exactly the schema's fields."""
    row_fields: dict[str, Any] = {}
    for i, spec in enumerate(schema.fields):
        row_fields[f"f{i}"] = (_annotation(spec), _field_info(spec))
    if schema.id_field:
        id_spec = FieldSpec(
            schema.id_field, "string", description="Row id, returned with the row's predictions."
        )
        row_fields["row_id"] = (str | int | None, _field_info(id_spec, required=False))
    row = create_model(
        "Row",
        __config__=ConfigDict(extra="forbid", populate_by_name=False, title="Row"),
        __doc__=f"One row of {title}: the feature columns of training"
        + (f", and optionally the id column {schema.id_field!r}." if schema.id_field else "."),
        **row_fields,
    )

    def wrap_bare_row(cls: type, data: Any) -> Any:
        if isinstance(data, dict) and not isinstance(data.get("rows"), list):
            return {"rows": [data]}
        return data

    class _Request(_Plain):
        model_config = ConfigDict(json_schema_extra={"examples": [{"rows": [schema.example_row()]}]})

    return create_model(
        "PredictRequest",
        __base__=_Request,
        __doc__='Rows to predict: {"rows": [{...}, ...]}, or one row as a bare object {...}.',
        __validators__={"wrap_bare_row": model_validator(mode="before")(classmethod(wrap_bare_row))},
        rows=(list[row], Field(min_length=1, description="The rows to predict, in order.")),  # type: ignore[valid-type]
    )


def _column_type(values: list[Any]) -> Any:
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {bool}:
        return bool if kinds else Any
    if kinds <= {int}:
        return int
    if kinds <= {int, float}:
        return float
    if kinds <= {str}:
        return str
    return Any


def output_model(columns: dict[str, list[Any]], id_column: str | None) -> type[BaseModel]:
    """``{"predictions": [Prediction, ...], "warnings": [...]}`` with the columns of ``predictions.csv``.

    Args:
        columns: Columns the model's outputs were described with (a probe prediction at start-up):
            their names and the type of their values make the fields.
        id_column: The id column, returned for rows that sent an id.
    """
    fields: dict[str, Any] = {}
    if id_column:
        fields["row_id"] = (
            str | int | None,
            Field(None, alias=id_column, description="The row id that was sent."),
        )
    for i, (name, values) in enumerate(columns.items()):
        kind = _column_type(values)
        described = (
            "predicted label"
            if name == "prediction"
            else f"probability of {name[5:]!r}"
            if name.startswith("prob_")
            else "predicted value"
        )
        fields[f"c{i}"] = (kind, Field(..., alias=name, description=described))
    prediction = create_model(
        "Prediction",
        __config__=ConfigDict(populate_by_name=False, title="Prediction"),
        __doc__="The predictions for one row: the columns of `lightkit predict`'s predictions.csv.",
        **fields,
    )
    return create_model(
        "PredictResponse",
        __doc__="One prediction per request row, in order.",
        predictions=(list[prediction], Field(...)),  # type: ignore[valid-type]
        warnings=(
            list[str],
            Field(
                default_factory=list,
                description="Notes about the input, e.g. categories never seen in training.",
            ),
        ),
    )


# -- errors --------------------------------------------------------------------------------------------
def _loc_parts(loc: tuple[Any, ...] | list[Any]) -> tuple[int | None, str | None, list[Any]]:
    """``("body", "rows", 3, "alcohol")`` -> row 3, field ``alcohol``."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    row = fld = None
    if len(parts) >= 2 and parts[0] == "rows" and isinstance(parts[1], int):
        row = parts[1]
        if len(parts) >= 3 and isinstance(parts[2], str):
            fld = parts[2]
    elif parts and isinstance(parts[0], str):
        fld = parts[0]
    return row, fld, parts


def describe_errors(
    errors: list[dict[str, Any]], fields: list[str], id_field: str | None
) -> list[dict[str, Any]]:
    """FastAPI's validation errors, each with the row index, the field and a one-line message.

    Args:
        errors: ``RequestValidationError.errors()``.
        fields: The feature field names (for "did you mean" on an unknown field).
        id_field: The id field, a known field too.
    """
    known = [*fields, *([id_field] if id_field else [])]
    out = []
    for error in errors:
        kind = str(error.get("type", ""))
        row, fld, parts = _loc_parts(error.get("loc", ()))
        where = f"row {row}" if row is not None else "the body"
        if kind == "json_invalid":
            detail = (error.get("ctx") or {}).get("error", "")
            message = f"the body is not valid JSON ({detail} at character {parts[0] if parts else '?'})"
            row = fld = None
        elif kind == "extra_forbidden" and row is not None:
            close = suggest(str(fld), known)
            message = f"{where}: unknown field {fld!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
        elif kind == "missing" and row is not None:
            message = f"{where}: missing field {fld!r}"
        elif kind == "missing":
            message = 'the body is empty: send {"rows": [{...}, ...]} or one row as an object'
        elif kind == "too_short" and parts == ["rows"]:
            message = "rows is empty: send at least one row"
        elif kind in ("model_attributes_type", "model_type", "dict_type") and row is None:
            message = 'the body must be a JSON object: {"rows": [{...}, ...]} or one row as an object'
        elif kind in ("model_attributes_type", "model_type", "dict_type"):
            message = f"{where} must be a JSON object with the feature fields"
        elif kind == "list_type" and parts == ["rows"]:
            message = '"rows" must be a list of row objects'
        elif row is not None and fld is not None:
            message = f"{where}, field {fld!r}: {error.get('msg', kind)} (got {_short(error.get('input'))})"
        else:
            message = f"{where}: {error.get('msg', kind)}"
        out.append(
            {"row": row, "field": fld, "type": kind, "message": message, "loc": list(error.get("loc", ()))}
        )
    # a misspelt field is both unknown and missing: name the unknown one first, with its suggestion
    order = {"extra_forbidden": 0, "missing": 1}
    return sorted(out, key=lambda p: (p["row"] if p["row"] is not None else -1, order.get(p["type"], 2)))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
