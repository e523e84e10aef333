"""Azure Functions route templates: parsing and matching.

The host routes with ASP.NET templates (``users/{user_id:guid}``,
``{*path}``). The 404/405 function and the local dev server both need to
match paths against the registered templates; they share this one matcher.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PARAM = re.compile(r"^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}$")
_CONSTRAINTS = {
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
    "int": r"-?[0-9]+",
    "alpha": r"[A-Za-z]+",
}


@dataclass(frozen=True)
class RouteTemplate:
    """One route template, compiled to a regex, with a precedence for ordering."""

    template: str
    pattern: re.Pattern[str] = field(repr=False)
    param_names: tuple[str, ...]
    constraints: dict[str, str]
    precedence: tuple[int, int, int]

    @classmethod
    def parse(cls, template: str) -> RouteTemplate:
        segments = [s for s in template.strip("/").split("/") if s]
        parts: list[str] = []
        names: list[str] = []
        constraints: dict[str, str] = {}
        literals = params = catch_all = 0
        for segment in segments:
            match = _PARAM.match(segment)
            if not match:
                parts.append("/" + re.escape(segment))
                literals += 1
                continue
            star, name, constraint, optional = match.groups()
            names.append(name)
            if constraint:
                constraints[name] = constraint
            if star:
                parts.append(f"(?:/(?P<{name}>.*))?")
                catch_all += 1
                continue
            body = _CONSTRAINTS.get(constraint or "", r"[^/]+")
            group = f"/(?P<{name}>{body})"
            parts.append(f"(?:{group})?" if optional else group)
            params += 1
        regex = "^" + "".join(parts) + "/?$" if parts else "^/?$"
        # Literal segments beat parameters, parameters beat a catch-all.
        precedence = (catch_all, -literals, params)
        return cls(template, re.compile(regex), tuple(names), constraints, precedence)

    def match(self, path: str) -> dict[str, str] | None:
        """The route parameters when ``path`` (starting with /) matches, else None."""
        found = self.pattern.match(path)
        if not found:
            return None
        return {k: v for k, v in found.groupdict().items() if v is not None}

    @property
    def openapi_path(self) -> str:
        """``/users/{user_id}``: the template as an OpenAPI path."""
        segments = []
        for segment in self.template.strip("/").split("/"):
            match = _PARAM.match(segment)
            segments.append("{" + match.group(2) + "}" if match else segment)
        return "/" + "/".join(segments)
