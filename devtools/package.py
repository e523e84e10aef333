"""Build the deployment package: the tracked files that ``.funcignore`` does not exclude.

``python -m devtools.package dist/app.zip`` writes the zip that the deploy
pipeline pushes to Flex Consumption (``az functionapp deployment source
config-zip --build-remote true``; the platform installs requirements.txt).
Core Tools and azd read ``.funcignore`` themselves; this is the same rule for
the pipeline, so tests, dev tools and infrastructure never reach production.
"""

from __future__ import annotations

import fnmatch
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ignore_patterns(root: Path = ROOT) -> list[str]:
    """The patterns of ``.funcignore`` (gitignore style: ``dir/``, names and globs)."""
    lines = (root / ".funcignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def is_ignored(path: str, patterns: list[str]) -> bool:
    """Whether ``path`` (relative, with ``/``) or one of its folders matches a pattern."""
    parts = path.split("/")
    for pattern in patterns:
        if pattern.endswith("/"):
            folder = pattern.rstrip("/")
            if any(fnmatch.fnmatch(part, folder) for part in parts[:-1]):
                return True
        elif any(fnmatch.fnmatch(part, pattern) for part in parts) or fnmatch.fnmatch(path, pattern):
            return True
    return False


def package_files(root: Path = ROOT) -> list[str]:
    """Every tracked file the package carries, sorted."""
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True)
    patterns = ignore_patterns(root)
    return sorted({path for path in tracked.stdout.splitlines() if not is_ignored(path, patterns)})


def build(target: Path, root: Path = ROOT) -> list[str]:
    """Write the zip to ``target``; returns what went in."""
    files = package_files(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in files:
            archive.write(root / name, name)
    return files


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m devtools.package <target.zip>", file=sys.stderr)
        return 2
    files = build(Path(argv[0]))
    print(f"{argv[0]}: {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
