"""What a deployment installs: the dependency closure of requirements.txt carries no web framework.

The closure is read from the metadata of the installed distributions (``Requires-Dist`` with
its markers evaluated for this interpreter, extras followed only where something asks for
them), starting from requirements.txt's pins, so a package that is installed in the dev
environment but that nothing in requirements.txt needs does not count.

azure-functions (the platform's own SDK, required) depends on Werkzeug, a WSGI library it
uses to parse requests; it is not a framework and is not on the list below.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from tests.support import ROOT

WEB_FRAMEWORKS = frozenset(
    map(
        canonicalize_name,
        (
            "django",
            "flask",
            "fastapi",
            "starlette",
            "tornado",
            "aiohttp",
            "bottle",
            "pyramid",
            "sanic",
            "quart",
            "falcon",
            "litestar",
            "cherrypy",
        ),
    )
)

Finder = Callable[[str], importlib.metadata.Distribution]


def _pins(path: Path) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def _applies(requirement: Requirement, extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    # evaluate() fills in this interpreter's environment (python_version, sys_platform, ...).
    return any(requirement.marker.evaluate({"extra": extra}) for extra in ("", *extras))


def closure(roots: Iterable[Requirement], find: Finder = importlib.metadata.distribution) -> dict[NormalizedName, str]:
    """Every distribution ``roots`` bring in, by normalised name, with its installed version."""
    found: dict[NormalizedName, str] = {}
    seen: set[tuple[NormalizedName, frozenset[str]]] = set()
    pending = [requirement for requirement in roots if _applies(requirement, ())]
    while pending:
        requirement = pending.pop()
        name, extras = canonicalize_name(requirement.name), frozenset(requirement.extras)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        distribution = find(requirement.name)  # PackageNotFoundError: the closure cannot be read
        found[name] = distribution.version
        dependencies = (Requirement(line) for line in distribution.requires or ())
        pending.extend(dependency for dependency in dependencies if _applies(dependency, extras))
    return found


def test_requirements_bring_in_no_web_framework() -> None:
    pins = _pins(ROOT / "requirements.txt")
    installed = closure(pins)
    for pin in pins:  # the metadata read is that of the pinned versions
        version = installed[canonicalize_name(pin.name)]
        assert pin.specifier.contains(version), f"{pin} but {version} is installed"
    assert {"sqlalchemy", "typing-extensions", "azure-core", "cryptography"} <= installed.keys()
    assert not installed.keys() & WEB_FRAMEWORKS, sorted(installed.keys() & WEB_FRAMEWORKS)


def _fake_distribution(folder: Path, name: str, requires: Iterable[str] = ()) -> importlib.metadata.Distribution:
    info = folder / f"{name}-1.0.dist-info"
    info.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0", *(f"Requires-Dist: {r}" for r in requires)]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    return importlib.metadata.PathDistribution(info)


def test_closure_follows_dependencies_requested_extras_and_markers(tmp_path: Path) -> None:
    """The check above would catch a framework brought in the way drf-spectacular-sidecar brought Django."""
    distributions = {
        canonicalize_name(distribution.metadata["Name"]): distribution
        for distribution in (
            _fake_distribution(tmp_path, "app", ["Lib[web]>=1", 'devtool; extra == "dev"', 'shim; python_version<"3"']),
            _fake_distribution(tmp_path, "lib", ["helper", 'Django>=4; extra == "web"', 'flask; extra == "other"']),
            _fake_distribution(tmp_path, "helper"),
            _fake_distribution(tmp_path, "django"),
            _fake_distribution(tmp_path, "sidecar", ["Django>=2.2"]),
        )
    }

    def find(name: str) -> importlib.metadata.Distribution:
        return distributions[canonicalize_name(name)]

    assert closure([Requirement("app==1.0")], find).keys() == {"app", "lib", "helper", "django"}
    assert closure([Requirement("lib")], find).keys() == {"lib", "helper"}
    assert closure([Requirement("helper"), Requirement("sidecar==1.0")], find).keys() & WEB_FRAMEWORKS == {"django"}
