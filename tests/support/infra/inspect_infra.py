"""Parse the infrastructure files with the tools of .venv-infra; print JSON.

Run by tests/integration/test_infra.py as ``.venv-infra/bin/python inspect_infra.py ROOT``
because pycep-parser and PyYAML live in that separate virtualenv (Checkov's
pins conflict with the app's). Output: ``{"pycep_version", "bicep": {path:
{"ok", "json" | "error"}}, "yaml": {path: document}}``.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

import yaml
from pycep import BicepParser


def _yaml_keys(node: object) -> object:
    """YAML 1.1 reads a workflow's ``on:`` as True; give it its name back."""
    if isinstance(node, dict):
        return {("on" if key is True else str(key)): _yaml_keys(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_yaml_keys(item) for item in node]
    return node


def main(root: Path) -> None:
    parser = BicepParser()
    bicep: dict[str, dict[str, object]] = {}
    for path in sorted((root / "infra").rglob("*.bicep")):
        name = path.relative_to(root).as_posix()
        try:
            bicep[name] = {"ok": True, "json": parser.parse(text=path.read_text(encoding="utf-8"))}
        except Exception as error:  # every parse failure is reported, never raised
            bicep[name] = {"ok": False, "error": f"{type(error).__name__}: {error}"[:2000]}
    documents = {}
    for pattern in ("azure.yaml", ".github/workflows/*.yml", ".github/workflows/*.yaml"):
        for path in sorted(root.glob(pattern)):
            documents[path.relative_to(root).as_posix()] = _yaml_keys(yaml.safe_load(path.read_text(encoding="utf-8")))
    print(json.dumps({"pycep_version": version("pycep-parser"), "bicep": bicep, "yaml": documents}, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
