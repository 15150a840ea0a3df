"""Declarative HTTP tools: a tenant describes an HTTP call; Treeflow validates and runs it.

A definition names the tool, its version and description, the input parameters
(a JSON Schema subset: string, integer, number, boolean, array, object, with enum,
default, bounds, length and pattern) and a request template whose `{param}`
placeholders are filled from the arguments. The host is literal, so the allow-list
is checked when the tool is registered and again by the worker at run time.

The input schema is the tool's contract with JSON Schema semantics: arguments are
checked by `activities.json_inputs` (strict JSON types, no `"5"` -> `5` coercion);
the pydantic model a `ToolSpec` needs only carries the checked values and the
declared defaults.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache
from typing import Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ModelWrapValidatorHandler,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError

from activities.http_policy import SecretHeader, header_value_problem, host_allowed
from activities.json_inputs import JsonProblem, json_problems, object_schema
from activities.sdk import ToolSpec
from activities.versions import ToolRef, Version, VersionError

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
ParamType = Literal["string", "integer", "number", "boolean", "array", "object"]
_LENGTH_KEYWORDS: dict[str, tuple[str, str]] = {
    "array": ("minItems", "maxItems"),
    "object": ("minProperties", "maxProperties"),
}
"""What `minLength`/`maxLength` bound when the parameter is not a string."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ParameterSchema(_Strict):
    """One input parameter (a JSON Schema subset)."""

    type: ParamType
    description: str = ""
    enum: list[str | int | float | bool] | None = Field(default=None, min_length=1)
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = Field(default=None, alias="minLength", ge=0)
    max_length: int | None = Field(default=None, alias="maxLength", ge=0)
    pattern: str | None = None
    items: ParameterSchema | None = Field(default=None, description="Element schema of arrays.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    def json_schema(self) -> dict[str, Any]:
        """This parameter in standard JSON Schema; on arrays and objects the declared
        lengths bound the number of items or keys."""
        schema = self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"items"})
        if not self.description:
            del schema["description"]
        low, high = _LENGTH_KEYWORDS.get(self.type, ("minLength", "maxLength"))
        for declared, keyword in (("minLength", low), ("maxLength", high)):
            if declared in schema:
                schema[keyword] = schema.pop(declared)
        if self.items is not None:
            schema["items"] = self.items.json_schema()
        return schema


class InputSchema(_Strict):
    """The tool's input: an object with named parameters."""

    type: Literal["object"] = "object"
    properties: dict[str, ParameterSchema] = Field(default_factory=dict)
    required: list[str] = Field(default_factory=list)
    additional_properties: Literal[False] = Field(default=False, alias="additionalProperties")

    @field_validator("properties")
    @classmethod
    def _names(cls, value: dict[str, ParameterSchema]) -> dict[str, ParameterSchema]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
                raise ValueError(f"'{name}' is not a parameter name (letters, digits, '_')")
        return value

    def json_schema(self) -> dict[str, Any]:
        """The arguments' JSON Schema: a closed object of the declared parameters."""
        return object_schema(
            {name: param.json_schema() for name, param in self.properties.items()},
            list(self.required),
        )


HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class RequestTemplate(_Strict):
    """The HTTP call, with `{param}` placeholders in the path, query, headers and body."""

    method: HttpMethod = "GET"
    url: str
    query: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    secret_headers: dict[str, SecretHeader] = Field(
        default_factory=dict, description="Headers whose values are tenant secrets, by name."
    )
    body: Any = Field(default=None, description="JSON body; a string exactly '{p}' keeps p's type.")
    timeout_seconds: float = Field(default=10.0, gt=0, le=30)
    expect_status: list[int] | None = None


class DeclarativeHttpTool(_Strict):
    """A tenant's HTTP tool, stored and versioned per tenant."""

    kind: Literal["http"] = "http"
    name: str
    version: str
    description: str = Field(
        min_length=10, description="When the tool is useful (the agent reads it)."
    )
    input_schema: InputSchema = Field(default_factory=InputSchema)
    request: RequestTemplate
    result_path: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$",
        description="Dotted path into the JSON response to return as `data` (e.g. 'data.items').",
    )
    deprecated: str | None = None

    @field_validator("name")
    @classmethod
    def _tool_name(cls, value: str) -> str:
        try:
            ToolRef.parse(value)
        except VersionError as exc:
            raise ValueError(str(exc)) from None
        if "@" in value:
            raise ValueError("the name must not contain '@'")
        return value

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        try:
            return str(Version.parse(value))
        except VersionError as exc:
            raise ValueError(str(exc)) from None

    @property
    def activity_name(self) -> str:
        return f"{self.name}@{self.version}"

    def content_hash(self) -> str:
        """sha256 of everything that changes behaviour (not `deprecated`)."""
        data = self.model_dump(mode="json", by_alias=True, exclude={"deprecated"})
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class DeclarativeHttpOutput(BaseModel):
    """What a declarative HTTP tool returns."""

    status: int
    data: Any = Field(default=None, description="The JSON answer (or the part at result_path).")
    text: str | None = Field(default=None, description="The answer when it is not JSON.")
    truncated: bool = False
    elapsed_ms: float


class InvalidDeclarativeTool(ValueError):
    """A definition is invalid; `problems` lists `(field path, message)` pairs."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.problems))


def validate_definition(
    data: Mapping[str, Any] | DeclarativeHttpTool,
    *,
    allowed_hosts: Sequence[str],
    reserved_names: Collection[str] = (),
) -> DeclarativeHttpTool:
    """Parse and check a definition: shape, placeholders, the host against `allowed_hosts`
    (the tenant's allow-list), and that the name does not shadow a registered tool."""
    if isinstance(data, DeclarativeHttpTool):
        tool = data
    else:
        try:
            tool = DeclarativeHttpTool.model_validate(data)
        except ValidationError as exc:
            raise InvalidDeclarativeTool(
                [
                    (".".join(str(p) for p in err["loc"]) or "(definition)", err["msg"])
                    for err in exc.errors(include_url=False, include_input=False)
                ]
            ) from None
    problems: list[tuple[str, str]] = []
    if tool.name in reserved_names:
        problems.append(("name", f"'{tool.name}' is a built-in or published tool; pick another"))
    params = tool.input_schema.properties
    for name in tool.input_schema.required:
        if name not in params:
            problems.append(("input_schema.required", f"'{name}' is not a declared property"))
    for name, param in params.items():
        problems.extend(_param_problems(f"input_schema.properties.{name}", param))
    problems.extend(_url_problems(tool.request.url, allowed_hosts))
    for path, text in _template_strings(tool.request):
        for placeholder in PLACEHOLDER.findall(text):
            if placeholder not in params:
                declared = ", ".join(sorted(params)) or "none"
                problems.append(
                    (
                        f"request.{path}",
                        f"placeholder '{{{placeholder}}}' is not a parameter "
                        f"(declared: {declared})",
                    )
                )
    for header in (*tool.request.headers, *tool.request.secret_headers):
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", header):
            problems.append((f"request.headers.{header}", "not a valid header name"))
    for header, template in tool.request.headers.items():
        problem = header_value_problem(PLACEHOLDER.sub("x", template))
        if problem is not None:
            problems.append((f"request.headers.{header}", f"not a valid header value: {problem}"))
    if problems:
        raise InvalidDeclarativeTool(problems)
    return tool


def _param_problems(path: str, param: ParameterSchema) -> list[tuple[str, str]]:
    problems = []
    if param.type == "array" and param.items is None:
        problems.append((f"{path}.items", "arrays need an `items` schema"))
    if param.items is not None and param.type != "array":
        problems.append((f"{path}.items", "only arrays have `items`"))
    if param.items is not None and param.items.type in ("array", "object"):
        problems.append((f"{path}.items.type", "array elements must be scalars"))
    if param.pattern is not None and param.type != "string":
        problems.append((f"{path}.pattern", "only strings have a pattern"))
    if param.default is not None and json_problems(
        object_schema({"default": param.json_schema()}, []), {"default": param.default}
    ):
        problems.append((f"{path}.default", f"{param.default!r} does not fit the schema"))
    return problems


def _url_problems(url: str, allowed_hosts: Sequence[str]) -> list[tuple[str, str]]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [("request.url", "must be an absolute http(s) URL")]
    if "{" in parts.netloc or "{" in parts.scheme:
        return [("request.url", "the scheme and host must be literal (no placeholders)")]
    if parts.username or parts.password:
        return [("request.url", "credentials in the URL are not allowed; use secret_headers")]
    host = parts.hostname or ""
    if not host_allowed(host, list(allowed_hosts)):
        return [("request.url", f"host '{host}' is not in the tenant's allow-list")]
    return []


def _template_strings(request: RequestTemplate) -> list[tuple[str, str]]:
    found = [("url", request.url)]
    found += [(f"query.{k}", v) for k, v in request.query.items()]
    found += [(f"headers.{k}", v) for k, v in request.headers.items()]

    def walk(value: Any, path: str) -> None:
        if isinstance(value, str):
            found.append((path, value))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")

    walk(request.body, "body")
    return found


# --------------------------------------------------------------------------- models


class SchemaCheckedArguments(BaseModel):
    """Arguments whose contract is the JSON Schema `args_schema`.

    Validation is `activities.json_inputs` (each problem keeps its path as the error's
    location, so callers report `args.<path>: message` as for any tool); the fields
    only carry the checked values and fill the declared defaults. Subclasses are built
    by `input_model`.
    """

    model_config = ConfigDict(extra="forbid")
    args_schema: ClassVar[dict[str, Any]] = object_schema({}, [])

    @model_validator(mode="wrap")
    @classmethod
    def _fits_the_schema(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise PydanticCustomError(
                "json_schema", "expected object, got {type}", {"type": type(data).__name__}
            )
        cls._raise_problems(json_problems(cls.args_schema, data), data)
        return handler(data)

    @classmethod
    def check_given(cls, values: Mapping[str, Any]) -> None:
        """Check only the arguments in `values`: none counts as missing, and unknown
        names are left to the whole check when the tool runs."""
        given = {**cls.args_schema, "required": [], "additionalProperties": True}
        cls._raise_problems(json_problems(given, values), values)

    @classmethod
    def _raise_problems(cls, problems: list[JsonProblem], data: Mapping[str, Any]) -> None:
        if problems:
            raise ValidationError.from_exception_data(
                cls.__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("json_schema", problem.message),
                        loc=tuple(problem.path.split(".")) if problem.path else (),
                        input=data,
                    )
                    for problem in problems
                ],
            )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"title": cls.__name__, **cls.args_schema}


def input_model(schema: InputSchema, name: str) -> type[SchemaCheckedArguments]:
    """The arguments model of an input schema: checked as JSON Schema, extra names refused."""
    required = set(schema.required)
    fields: dict[str, Any] = {
        pname: (
            Any,
            Field(
                ... if pname in required else param.default,
                description=param.description or None,
            ),
        )
        for pname, param in schema.properties.items()
    }
    title = "".join(part.capitalize() for part in re.split(r"[_.-]", name)) + "Input"
    model: type[SchemaCheckedArguments] = create_model(
        title, __base__=SchemaCheckedArguments, **fields
    )
    model.args_schema = schema.json_schema()
    return model


@lru_cache(maxsize=512)
def _spec_for(canonical: str) -> ToolSpec:
    tool = DeclarativeHttpTool.model_validate_json(canonical)
    return ToolSpec(
        name=tool.name,
        version=Version.parse(tool.version),
        description=tool.description,
        input_model=input_model(tool.input_schema, tool.name),
        output_model=DeclarativeHttpOutput,
        deprecated=tool.deprecated,
        tags=("declarative", "http"),
    )


def tool_spec(tool: DeclarativeHttpTool) -> ToolSpec:
    """The `ToolSpec` of a definition (input model built from its schema); cached."""
    return _spec_for(tool.model_dump_json(by_alias=True))
