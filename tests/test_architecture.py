"""The layering rules of docs/architecture.md, checked on the source with `ast`.

- core imports nothing of the providers, the control plane or the face, and names no provider,
  provider path or provider header, not even in a comment;
- a provider imports core and itself only: never another provider, the control plane or the face;
- the control plane imports core only, and names no provider either;
- every provider folder has the same files, and each is registered by one line in the face.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from sandbox.app import providers

ROOT = Path(__file__).resolve().parent.parent / "sandbox"
PROVIDERS = sorted(p.name for p in (ROOT / "providers").iterdir() if (p / "__init__.py").exists())
FACE = ("sandbox.app", "sandbox.cli", "sandbox.config", "sandbox.replay", "sandbox.listen", "sandbox.__main__")
SHAPE = ("auth", "errors", "models", "machine", "magic", "events", "service", "routes", "control", "scenarios")


def modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def imports(path: Path) -> list[str]:
    """Every module a file imports, `from x import y` counted as both `x` and `x.y`."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return [name for name in found if name == "sandbox" or name.startswith("sandbox.")]


def allowed(name: str, prefixes: tuple[str, ...]) -> bool:
    return name in ("sandbox", "sandbox.__version__") or any(name == p or name.startswith(p + ".") for p in prefixes)


def offending(folder: Path, prefixes: tuple[str, ...]) -> list[str]:
    return [f"{path.relative_to(ROOT)} imports {name}" for path in modules(folder) for name in imports(path) if not allowed(name, prefixes)]


def test_core_imports_only_core():
    assert offending(ROOT / "core", ("sandbox.core",)) == []


def test_control_plane_imports_only_core():
    assert offending(ROOT / "control", ("sandbox.core", "sandbox.control")) == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_provider_imports_only_core_and_itself(provider):
    assert offending(ROOT / "providers" / provider, ("sandbox.core", f"sandbox.providers.{provider}")) == []


def provider_words() -> list[str]:
    """What a neutral module must not say: provider names, paths and headers, from the registry itself."""
    words = {"dino", "crossmint", "basis theory", "basistheory", "btplatform", "din_", "whsec_bt"}
    for provider in providers():
        words.add(provider.name)
        words.update(prefix.rstrip("/") for prefix in provider.prefixes)
        words.update(header for header in provider.recorded_headers if header not in ("authorization", "idempotency-key"))
    words.update({"bt-signature", "bt-api-key", "x-api-key", "dino-signature"})
    words.update(f"/_sandbox/{name}" for name in ("dino", "crossmint", "basistheory"))
    return sorted(words)


def mentions(folder: Path) -> list[str]:
    pattern = re.compile("|".join(rf"(?<![\w.]){re.escape(word)}(?![\w])" for word in provider_words()), re.IGNORECASE)
    return [
        f"{path.relative_to(ROOT)}:{number}: {match.group(0)!r}"
        for path in modules(folder)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for match in pattern.finditer(line)
    ]


def test_core_names_no_provider():
    assert mentions(ROOT / "core") == []


def test_control_plane_names_no_provider():
    assert mentions(ROOT / "control") == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_provider_folder_has_the_same_shape(provider):
    missing = [name for name in SHAPE if not (ROOT / "providers" / provider / f"{name}.py").exists()]
    assert missing == []


def test_every_provider_folder_is_registered_once():
    registered = {type(p).__module__ for p in providers()}
    assert registered == {f"sandbox.providers.{name}" for name in PROVIDERS}
    assert len(providers()) == len(PROVIDERS)


def test_core_defines_each_name_once():
    """One meaning per name: a class or function defined in two core modules is a trap for readers."""
    where: dict[str, list[str]] = {}
    for path in modules(ROOT / "core"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                where.setdefault(node.name, []).append(str(path.relative_to(ROOT)))
    assert {name: files for name, files in where.items() if len(files) > 1} == {}


def test_a_default_start_loads_no_feature_it_does_not_use():
    """Start-up time (docs/performance.md): YAML, JWTs, RSA keys, email checks, fake data and the
    durable backends are imported by the first request that needs them, not by `create_app`."""
    import subprocess
    import sys

    script = (
        "import sys; from sandbox.app import create_app; from sandbox.config import Settings; create_app(Settings(seed=1)); "
        "print(' '.join(m for m in ('yaml', 'jwt', 'cryptography', 'email_validator', 'faker', 'redis', 'sqlite3') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60).stdout.split()
    assert loaded == []
