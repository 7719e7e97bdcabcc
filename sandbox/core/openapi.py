"""OpenAPI 3.1 documents, built from what the routes declare (`ProviderApi.route` and `document`).

A route's `RouteDoc` names the pydantic models its handler parses and the statuses it answers
beyond those the machinery gives every route; this module adds the latter, from the API's own
`ErrorStyle`:

- a route that reads a body (every method but GET): 400 (not JSON, a wrong field), 413, 415;
- a route with a body or query model: 400; an idempotent one: 400 (a bad key) and 409 (a key
  reused with another body);
- a route with path parameters: 404 (an unknown id, or a value that matches no route);
- a route with path parameters or a query: 414 (a request line longer than the parser reads);
- an authenticated route: the statuses its API's credentials give (`ApiInfo.auth_responses`).

Every error body is described by one schema, read off the style itself: each `ErrorKind` is
rendered with and without field errors, a code and details, and the shapes are merged (keys present in
every sample are required; an object keyed by the failing fields is a map). So the document
says what the style writes, and cannot drift from it. Success bodies use the declared model, or
else a permissive object (or array): the sandbox's objects are rendered by `to_wire()`, not by
models, and the document does not pretend otherwise.

Documents are built once per API, on first request, from metadata collected at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from sandbox.core.errors import ErrorKind, ErrorStyle, FieldError, SandboxError

JSON = "application/json"
OBJECT: dict[str, Any] = {"type": "object"}
ARRAY: dict[str, Any] = {"type": "array"}
REF = "#/components/schemas/{model}"
ERROR_SCHEMA = "Error"
Mode = Literal["validation", "serialization"]


@dataclass(frozen=True, slots=True)
class ResponseDoc:
    """One documented answer: its body is `model`'s schema, or `schema`, or a permissive object."""

    description: str
    model: type[BaseModel] | None = None
    schema: Mapping[str, Any] | None = None
    media_type: str | None = JSON  # None: no body
    headers: Mapping[str, str] = field(default_factory=dict)  # always sent: name -> description


@dataclass(frozen=True, slots=True)
class RouteDoc:
    method: str
    path: str  # the aiohttp template, `{name}` or `{name:regex}`
    summary: str = ""
    description: str = ""
    body: type[BaseModel] | None = None
    body_media: tuple[str, ...] = ()  # JSON unless said
    empty_ok: bool = False  # the body may be left out
    query: type[BaseModel] | None = None
    responses: Mapping[int, str | ResponseDoc] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    authenticated: bool = True
    reads_body: bool = False
    idempotency_header: str | None = None


@dataclass(frozen=True, slots=True)
class ApiInfo:
    title: str
    description: str = ""
    security: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # scheme name -> OpenAPI security scheme
    auth_responses: Mapping[int, str] = field(default_factory=dict)  # what its credentials can answer
    # The alternatives a request may present (each a set of schemes sent together); by default each scheme alone.
    requirements: tuple[tuple[str, ...], ...] = ()


def bearer_scheme(description: str, bearer_format: str | None = None) -> dict[str, Any]:
    scheme: dict[str, Any] = {"type": "http", "scheme": "bearer", "description": description}
    if bearer_format:
        scheme["bearerFormat"] = bearer_format
    return scheme


def api_key_scheme(header: str, description: str) -> dict[str, Any]:
    return {"type": "apiKey", "in": "header", "name": header, "description": description}


# -- paths -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _PathParam:
    name: str
    regex: str | None


def _split_template(path: str) -> Iterator[str | _PathParam]:
    """`/a/{id}/b/{v:\\d{4}}` -> "/a/", id, "/b/", v (braces may nest once inside a regex, as in aiohttp)."""
    start = 0
    while (open_at := path.find("{", start)) != -1:
        depth, at = 0, open_at
        for at in range(open_at, len(path)):
            depth += {"{": 1, "}": -1}.get(path[at], 0)
            if depth == 0:
                break
        yield path[start:open_at]
        name, _, regex = path[open_at + 1:at].partition(":")
        yield _PathParam(name, regex or None)
        start = at + 1
    yield path[start:]


def openapi_path(path: str) -> tuple[str, list[_PathParam]]:
    parts = list(_split_template(path))
    text = "".join(p if isinstance(p, str) else "{" + p.name + "}" for p in parts)
    return text, [p for p in parts if isinstance(p, _PathParam)]


def _path_parameter(param: _PathParam) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    if param.regex:
        schema["pattern"] = f"^(?:{param.regex})$"
    return {"name": param.name, "in": "path", "required": True, "schema": schema}


def _operation_id(method: str, path: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", path.replace("{", " by ").replace("}", " "))
    return "_".join([method.lower(), *words])


# -- the error body, read off the style ------------------------------------------------------

_SAMPLE_FIELDS = ("sample_field", "sample.nested.0")
_SAMPLE_DETAIL = "sample_detail"  # shows where details go (and that what else is there is optional), then is left out


def _error_samples(style: ErrorStyle) -> Iterator[tuple[int, Any]]:
    fields = [FieldError(_SAMPLE_FIELDS[0], "is required", "missing"), FieldError(_SAMPLE_FIELDS[1], "is invalid")]
    for kind in ErrorKind:
        yield style.render(SandboxError(kind, "message"), "/")
        yield style.render(SandboxError(kind, "message", fields=list(fields)), "/")
        yield style.render(SandboxError(kind, "message", code="code"), "/")
        yield style.render(SandboxError(kind, "message", details={_SAMPLE_DETAIL: "detail"}), "/")


def _shape(value: Any) -> dict[str, Any]:
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        shape: dict[str, Any] = {"type": "array"}
        for item in value:
            shape["items"] = _merge(shape["items"], _shape(item)) if "items" in shape else _shape(item)
        return shape
    if isinstance(value, dict):
        properties = {str(key): _shape(item) for key, item in value.items() if key != _SAMPLE_DETAIL}
        if properties and set(properties) <= set(_SAMPLE_FIELDS):  # keyed by the failing fields: a map
            merged = None
            for item in properties.values():
                merged = item if merged is None else _merge(merged, item)
            return {"type": "object", "additionalProperties": merged}
        return {"type": "object", "properties": properties, "required": sorted(properties)}
    return {}


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The shape of a value that is sometimes like `a`, sometimes like `b`."""
    if a == b:
        return a
    if a.get("type") == b.get("type") == "object" and "properties" in a and "properties" in b:
        names = list(dict.fromkeys([*a["properties"], *b["properties"]]))
        properties = {
            n: _merge(a["properties"][n], b["properties"][n]) if n in a["properties"] and n in b["properties"]
            else a["properties"].get(n) or b["properties"][n]
            for n in names
        }
        return {"type": "object", "properties": properties, "required": sorted(set(a["required"]) & set(b["required"]))}
    if a.get("type") == b.get("type") == "object" and "additionalProperties" in a and "additionalProperties" in b:
        return {"type": "object", "additionalProperties": _merge(a["additionalProperties"], b["additionalProperties"])}
    if a.get("type") == b.get("type") == "array":
        if "items" in a and "items" in b:
            return {"type": "array", "items": _merge(a["items"], b["items"])}
        return {"type": "array", "items": a.get("items") or b["items"]}
    options = [*a.get("anyOf", [a]), *b.get("anyOf", [b])]
    unique = [o for i, o in enumerate(options) if o not in options[:i]]
    return unique[0] if len(unique) == 1 else {"anyOf": unique}


def _tidy(schema: Any) -> Any:
    """Without the empty `required` lists merging leaves."""
    if isinstance(schema, list):
        return [_tidy(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {key: _tidy(value) for key, value in schema.items() if not (key == "required" and value == [])}


def error_schema(style: ErrorStyle) -> dict[str, Any]:
    shape: dict[str, Any] | None = None
    for _, body in _error_samples(style):
        shape = _shape(body) if shape is None else _merge(shape, _shape(body))
    assert shape is not None
    return {**_tidy(shape), "description": "The error body every failure of this API carries, whatever its status."}


def error_status(style: ErrorStyle, kind: ErrorKind) -> int:
    return style.render(SandboxError(kind, "message"), "/")[0]


# -- one document ----------------------------------------------------------------------------


class _Responses:
    """Statuses and what each may carry; several reasons for one status are joined."""

    def __init__(self, error_ref: dict[str, Any], schemas: Mapping[tuple[Any, Mode], dict[str, Any]]) -> None:
        self._error_ref = error_ref
        self._schemas = schemas
        self.table: dict[str, dict[str, Any]] = {}

    def error(self, status: int, description: str) -> None:
        self._add(status, description, {JSON: {"schema": self._error_ref}}, {})

    def declared(self, status: int, answer: str | ResponseDoc) -> None:
        if isinstance(answer, str) and status >= 400:
            self.error(status, answer)
            return
        if isinstance(answer, str):
            answer = ResponseDoc(answer, media_type=None if status in (204, 304) else JSON)
        content: dict[str, Any] = {}
        if answer.media_type is not None:
            if answer.model is not None:
                schema: Mapping[str, Any] = self._schemas[(answer.model, "serialization")]
            elif answer.schema is not None:
                schema = answer.schema
            elif answer.media_type != JSON:
                schema = {"type": "string"}
            else:
                schema = self._error_ref if status >= 400 else OBJECT
            content[answer.media_type] = {"schema": dict(schema)}
        headers = {name: {"description": text, "required": True, "schema": {"type": "string"}} for name, text in answer.headers.items()}
        self._add(status, answer.description, content, headers)

    def _add(self, status: int, description: str, content: dict[str, Any], headers: dict[str, Any]) -> None:
        entry = self.table.setdefault(str(status), {"description": description})
        if description not in entry["description"]:
            entry["description"] = f"{entry['description']}; {description}"
        if content:
            entry.setdefault("content", {}).update(content)
        if headers:
            entry.setdefault("headers", {}).update(headers)

    def sorted(self) -> dict[str, dict[str, Any]]:
        for entry in self.table.values():
            entry["description"] = entry["description"][:1].upper() + entry["description"][1:]
        return dict(sorted(self.table.items()))


def _without_null_defaults(schema: Any) -> Any:
    """A field that cannot be null but defaults to None (left out: unchanged) shows no default:
    a default the schema refuses would make the document invalid."""
    if isinstance(schema, list):
        return [_without_null_defaults(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    refuses_null = kind is not None and kind != "null" and not (isinstance(kind, list) and "null" in kind)
    return {
        key: _without_null_defaults(value) for key, value in schema.items()
        if not (key == "default" and value is None and refuses_null)
    }


def _query_parameters(model: type[BaseModel], components: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    components.update(_without_null_defaults(schema.pop("$defs", {})))
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        # A query value is never null: an optional parameter is simply left out.
        prop = {key: value for key, value in prop.items() if key != "title" and not (key == "default" and value is None)}
        options = [o for o in prop.pop("anyOf", []) if o != {"type": "null"}]
        if len(options) == 1:
            prop = {**options[0], **prop}
        elif options:
            prop["anyOf"] = options
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if "description" in prop:
            parameter["description"] = prop["description"]
        parameters.append(parameter)
    return parameters


def _operation(
    doc: RouteDoc, info: ApiInfo, style: ErrorStyle, refs: Mapping[tuple[Any, Mode], dict[str, Any]], error_ref: dict[str, Any],
    components: dict[str, Any],
) -> dict[str, Any]:
    path, params = openapi_path(doc.path)
    operation: dict[str, Any] = {"operationId": _operation_id(doc.method, path), "summary": doc.summary}
    if doc.description:
        operation["description"] = doc.description
    if doc.tags:
        operation["tags"] = list(doc.tags)
    parameters = [_path_parameter(p) for p in params]
    if doc.query is not None:
        parameters += _query_parameters(doc.query, components)
    if doc.idempotency_header:
        parameters.append({
            "name": doc.idempotency_header, "in": "header", "required": False,
            "description": "Retries with the same key (and body) answer the first response again",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        })
    if parameters:
        operation["parameters"] = parameters
    if doc.body is not None:
        operation["requestBody"] = {
            "required": not doc.empty_ok,
            "content": {media: {"schema": refs[(doc.body, "validation")]} for media in doc.body_media or (JSON,)},
        }
    responses = _Responses(error_ref, refs)
    if doc.reads_body:
        responses.error(error_status(style, ErrorKind.MALFORMED), "the body is not JSON, or not an object")
        responses.error(error_status(style, ErrorKind.UNSUPPORTED_MEDIA_TYPE), "the body is not sent as JSON")
        responses.error(error_status(style, ErrorKind.PAYLOAD_TOO_LARGE), "the body is larger than the sandbox accepts")
    if doc.body is not None or doc.query is not None:
        responses.error(error_status(style, ErrorKind.VALIDATION), "a field or query parameter is wrong")
    if doc.idempotency_header:
        responses.error(error_status(style, ErrorKind.VALIDATION), f"{doc.idempotency_header} is empty or too long")
        responses.error(error_status(style, ErrorKind.IDEMPOTENCY_CONFLICT), f"{doc.idempotency_header} was used with another body")
    if params:
        responses.error(error_status(style, ErrorKind.NOT_FOUND), "no such object here, or no route for the path as sent")
    if params or doc.query is not None:
        responses.error(414, "the request line (path and query) is longer than the sandbox reads")
    if doc.authenticated and info.security:
        for status, text in info.auth_responses.items():
            responses.error(status, text)
        alternatives = info.requirements or tuple((name,) for name in info.security)
        operation["security"] = [{name: [] for name in names} for names in alternatives]
    else:
        operation["security"] = []
    for status, answer in doc.responses.items():
        responses.declared(status, answer)
    if not any(code.startswith(("2", "3")) for code in responses.table):
        responses.declared(200, "OK")
    operation["responses"] = responses.sorted()
    return operation


def openapi_document(info: ApiInfo, docs: Sequence[RouteDoc], style: ErrorStyle, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of one API."""
    unique: dict[tuple[str, str], RouteDoc] = {}
    for doc in docs:
        unique.setdefault((doc.method, doc.path), doc)
    wanted: list[tuple[type[BaseModel], Mode]] = []
    for doc in unique.values():
        if doc.body is not None:
            wanted.append((doc.body, "validation"))
        for answer in doc.responses.values():
            if isinstance(answer, ResponseDoc) and answer.model is not None:
                wanted.append((answer.model, "serialization"))
    wanted = list(dict.fromkeys(wanted))
    refs, definitions = models_json_schema(wanted, ref_template=REF) if wanted else ({}, {})
    components: dict[str, Any] = {name: _without_null_defaults(schema) for name, schema in definitions.get("$defs", {}).items()}
    error_name = ERROR_SCHEMA if ERROR_SCHEMA not in components else f"{ERROR_SCHEMA}Body"
    components[error_name] = error_schema(style)
    error_ref = {"$ref": REF.format(model=error_name)}

    paths: dict[str, dict[str, Any]] = {}
    for doc in unique.values():
        path, _ = openapi_path(doc.path)
        paths.setdefault(path, {})[doc.method.lower()] = _operation(doc, info, style, refs, error_ref, components)

    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": info.title, "version": version, **({"description": info.description} if info.description else {})},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": dict(sorted(components.items()))},
    }
    if info.security:
        document["components"]["securitySchemes"] = {name: dict(scheme) for name, scheme in info.security.items()}
    return document
