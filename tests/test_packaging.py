"""The package as a user installs it: a light top-level import, ``from drumsynth import Session``, package
data for everything loaded at run time, and docs that do not point outside the repository."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

import drumsynth

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "drumsynth"


def _fresh_python(code: str) -> str:
    """Run ``code`` in a new interpreter (a clean ``sys.modules``) and return its stdout."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_is_light():
    out = _fresh_python("import sys, drumsynth; print(sorted(m for m in sys.modules "
                        "if m.split('.')[0] in {'torch', 'numpy', 'librosa', 'matplotlib'} "
                        "or m.startswith('drumsynth.')))")
    assert out.strip() == "[]", f"import drumsynth imported {out.strip()}"


def test_session_is_exported_lazily():
    out = _fresh_python("import sys, drumsynth\n"
                        "before = 'drumsynth.inference.session' in sys.modules\n"
                        "from drumsynth import Session\n"
                        "from drumsynth.inference.session import Session as Real\n"
                        "print(before, Session is Real, drumsynth.Session is Real, 'Session' in dir(drumsynth))")
    assert out.split() == ["False", "True", "True", "True"]


def test_all_names_resolve_and_unknown_names_fail():
    from drumsynth.inference.session import Session

    assert set(drumsynth.__all__) == {"Session", "__version__"}
    for name in drumsynth.__all__:
        assert getattr(drumsynth, name) is not None
    assert drumsynth.Session is Session
    with pytest.raises(AttributeError, match="no_such_name"):
        drumsynth.no_such_name  # noqa: B018


def test_version_matches_pyproject():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert drumsynth.__version__ == meta["version"]


def _package_data_patterns() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["setuptools"]["package-data"]["drumsynth"]


def test_every_runtime_file_is_package_data():
    """Every non-Python file under src/drumsynth (checkpoints, model cards, presets) goes into the wheel."""
    patterns = _package_data_patterns()
    files = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*")
             if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts
             and p.name != ".keep"]
    assert any(f.endswith(".pt") for f in files), files  # the shipped models are there to check
    missing = [f for f in files if not any(fnmatch(f, pat) for pat in patterns)]
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"


def test_runtime_dependencies_cover_every_verb():
    """What drumsynth imports is declared: core needs as dependencies (demo and evaluate draw a sheet),
    a front end's own needs (web, OSC, MIDI, export) in its extra; each extra is imported only inside
    the front end that uses it, and check-wheel runs every verb's --help without any extra installed."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(specs: list[str]) -> set[str]:
        return {re.split(r"[<>=!~ \[]", d, maxsplit=1)[0].lower() for d in specs}

    core = names(project["dependencies"])
    extras = {extra: names(specs) for extra, specs in project["optional-dependencies"].items() if extra != "dev"}
    imported: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):  # imports inside functions count too
            if isinstance(node, ast.Import):
                modules = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module.split(".")[0]]
            else:
                continue
            for module in modules:
                imported.setdefault(module, set()).add(str(path.relative_to(PACKAGE)))
    third_party = set(imported) - set(sys.stdlib_module_names) - {"drumsynth", "__future__"}
    # aisfx is installed --no-deps on purpose (its pins are old); evaluate says how when it is absent.
    optional = {"aisfx"}
    distribution = {"sklearn": "scikit-learn", "pythonosc": "python-osc", "multipart": "python-multipart",
                    "starlette": "fastapi", "pydantic": "fastapi", "onnxruntime": "onnxruntime"}
    declared = core.union(*extras.values())
    needed = {distribution.get(m, m).lower() for m in third_party - optional}
    assert needed <= declared, f"imported but not declared: {sorted(needed - declared)}"
    assert any(d.replace(" ", "") == "torch==2.13.0" for d in project["dependencies"])  # any other spec pulls CUDA
    # The console script imports every verb's module to build --help: no extra may be imported there.
    cli_top_level = set()
    for path in (PACKAGE / "cli").glob("*.py"):
        for node in ast.parse(path.read_text()).body:  # module level only: lazy imports inside run() are fine
            if isinstance(node, ast.Import):
                cli_top_level |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                cli_top_level.add(node.module.split(".")[0])
    in_cli = {distribution.get(m, m).lower() for m in cli_top_level}
    assert not in_cli & set().union(*extras.values()), sorted(in_cli & set().union(*extras.values()))
    assert names(project["optional-dependencies"]["dev"]) >= set().union(*extras.values()), "make test needs every extra"


def test_docs_stay_inside_the_repository():
    """Users have the repository, not its ../shared folder: no link or snippet may point there."""
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((PACKAGE / "pretrained").glob("*.md"))]
    offenders = []
    for doc in docs:
        text = doc.read_text()
        for target in re.findall(r"\]\(([^)]+)\)", text):
            if target.startswith(("http://", "https://", "#")):
                continue
            if not (doc.parent / target.split("#")[0]).resolve().is_relative_to(ROOT):
                offenders.append(f"{doc.name}: {target}")
            elif not (doc.parent / target.split("#")[0]).exists():
                offenders.append(f"{doc.name}: {target} (missing)")
        offenders += [f"{doc.name}: {m}" for m in re.findall(r"\.\./shared/\S*", text)]
    assert not offenders, offenders


@pytest.mark.parametrize("doc", ["ndm.md", "drumgan.md", "wavegan.md", "style.md"])
def test_doc_snippets_load_shipped_models_by_id(doc):
    """The Python snippets load the shipped models through the Session, not a repo-relative path."""
    text = (ROOT / "docs" / doc).read_text()
    snippets = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert snippets
    family = doc.removesuffix(".md")
    assert f'Session.load("{family}")' in snippets[0]
    assert not any("src/drumsynth/" in s for s in snippets), "a snippet loads a repo-relative path"

