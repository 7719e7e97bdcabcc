"""Load a scenario file: YAML (or JSON) into the models, errors with file, line and a hint."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ValidationError

from sandbox.core.errors import FieldError, from_validation
from sandbox.core.http import holds_more_values
from sandbox.core.scenarios.model import STEP_KINDS, Scenario, Step, reference_problems, typed_steps
from sandbox.core.scenarios.rules import OutcomeCatalog

if TYPE_CHECKING:
    import yaml


@cache  # PyYAML (~10 ms to import) is imported by the first scenario read, not by every start
def _loader() -> type[yaml.SafeLoader]:
    import yaml

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]  # libyaml's parser when present
        """YAML 1.2 booleans: only true/false. In YAML 1.1 `on`, `off`, `yes` and `no` are booleans,
        which would turn a rule's `on:` key into `True`."""

    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
    # Dates stay strings (`2026-01-01`): scenarios are JSON requests, and JSON has no date type.
    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in Loader.yaml_implicit_resolvers.items()
    }
    return Loader


MAX_NODES = 100_000  # after anchors and aliases are expanded: a "billion laughs" file stops here
MAX_BYTES = 512 * 1024  # parse cost grows with size: a scenario is a script, not a data set


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}"


@dataclass(slots=True)
class Loaded:
    scenario: Scenario
    steps: list[Step]


class ScenarioError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def load(path: str | Path, catalog: OutcomeCatalog) -> Loaded:
    path = Path(path)
    return parse(path.read_text(), catalog, str(path))


def parse(text: str, catalog: OutcomeCatalog, name: str = "<scenario>") -> Loaded:
    """`catalog` holds the registered providers and what their rules may script."""
    if len(text) > MAX_BYTES:
        raise ScenarioError([Problem(name, None, "scenario", f"is larger than {MAX_BYTES // 1024} KiB")])
    import yaml

    root: Any = None
    try:
        loader = _loader()(text)
        try:
            root = loader.get_single_node()  # parsed once: the nodes give line numbers, the data is built from them
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except RecursionError:
        raise ScenarioError([Problem(name, None, "scenario", "nests too deeply")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ScenarioError([Problem(name, mark.line + 1 if mark else None, "yaml", str(getattr(exc, "problem", exc)))]) from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):  # an explicit tag on a value it cannot read
        raise ScenarioError([_unreadable(name, root)]) from None
    if not isinstance(data, dict):
        raise ScenarioError([Problem(name, 1, "scenario", "must be a mapping with at least `name` and `steps`")])
    if _too_big(data):
        raise ScenarioError([Problem(name, 1, "scenario", f"expands to more than {MAX_NODES} values (anchors and aliases included)")])
    unfit = _non_finite(name, root)
    if unfit:
        raise ScenarioError(unfit)
    try:
        orjson.dumps(data)
    except (orjson.JSONEncodeError, TypeError) as exc:
        message = f"holds a value JSON cannot carry (sets, binary, non-text keys, huge numbers): {exc}"
        raise ScenarioError([Problem(name, None, "scenario", message)]) from None
    try:
        scenario = Scenario.model_validate(data, context={"catalog": catalog})
    except ValidationError as exc:
        raise ScenarioError([_problem(name, root, f, Scenario) for f in from_validation(exc).fields]) from None
    steps, problems = typed_steps(scenario.steps, catalog)
    problems = problems or reference_problems(scenario, steps)  # references are checked once every step is well formed
    if problems:
        raise ScenarioError([_problem(name, root, f, Scenario) for f in problems])
    return Loaded(scenario, steps)


def _too_big(data: Any) -> bool:
    """Counts values as they would be written out (aliases expanded), stopping early."""
    return holds_more_values(data, MAX_NODES)


_FLOAT_TAG = "tag:yaml.org,2002:float"


def _scalars(root: Any) -> Iterator[tuple[yaml.ScalarNode, str]]:
    """Every scalar node (keys included) with the dotted path of its value, in file order; an
    anchor's nodes once, however often they are aliased."""
    import yaml

    seen: set[int] = set()
    stack: list[tuple[Any, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                label = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                stack.extend([(value, f"{path}.{label}" if path else label), (key, path)])
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{path}.{index}" if path else str(index)) for index, item in reversed(list(enumerate(node.value))))
        elif isinstance(node, yaml.ScalarNode):
            yield node, path or "scenario"


def _non_finite(name: str, root: Any) -> list[Problem]:
    """YAML's `.inf`, `-.inf` and `.nan` (and `!!float` values that overflow): JSON has no such
    numbers, so they would reach a request or a rule as null. Each is refused at its line."""
    import yaml

    problems: list[Problem] = []
    constructor = yaml.constructor.SafeConstructor()
    for node, path in _scalars(root):
        if node.tag == _FLOAT_TAG and not math.isfinite(constructor.construct_yaml_float(node)):
            message = f"{node.value!r} is not a number JSON can carry (JSON has no infinity or NaN): write a finite number, or quote it"
            problems.append(Problem(name, node.start_mark.line + 1, path, message))
    return problems


def _unreadable(name: str, root: Any) -> Problem:
    """The first value whose explicit tag (`!!float abc`, `!!int x`) cannot read it."""
    import yaml

    constructor = _loader()("")
    for node, path in _scalars(root):
        try:
            constructor.construct_object(node)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, yaml.YAMLError):
            tag = node.tag.removeprefix("tag:yaml.org,2002:")
            return Problem(name, node.start_mark.line + 1, path, f"{node.value!r} cannot be read as the !!{tag} its tag asks for")
    return Problem(name, None, "yaml", "a value cannot be read as its tag says")


def _problem(name: str, root: Any, error: FieldError, model: type[BaseModel]) -> Problem:
    path = error.field.split(".")
    message = error.message
    if error.type == "extra_forbidden":
        allowed = _fields_at(path[:-1], model)
        close = difflib.get_close_matches(path[-1], allowed, n=1)
        message = f"unknown field; did you mean {close[0]!r}?" if close else f"unknown field; expected one of: {', '.join(allowed)}"
    return Problem(name, _line(root, path), error.field, message)


def _fields_at(path: list[str], model: type[BaseModel]) -> list[str]:
    """The field names allowed at `path`; inside a step, those of its kind."""
    if path[:1] == ["steps"]:
        if len(path) <= 2:
            return sorted({f for kind in STEP_KINDS.values() for f in kind.model_fields})
        model, path = STEP_KINDS.get(path[2], STEP_KINDS["request"]), path[2:]
        path = path[1:] if path and path[0] not in model.model_fields else path
    for part in path:
        field = model.model_fields.get(part)
        options = (getattr(field.annotation, "__args__", None) or (field.annotation,)) if field else ()
        nested = [t for t in options if isinstance(t, type) and issubclass(t, BaseModel)]
        if not nested:
            break
        model = nested[0]
    return list(model.model_fields)


def _line(node: Any, path: list[str]) -> int | None:
    """The 1-based line of the YAML node at `path` (the deepest one that exists)."""
    import yaml

    line = node.start_mark.line + 1 if node is not None else None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                key = next((k for k, _ in node.value if k.value == part), None)
                return key.start_mark.line + 1 if key else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
        else:
            break
        line = node.start_mark.line + 1
    return line
