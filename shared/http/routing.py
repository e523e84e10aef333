"""Azure Functions route templates: parsing and matching.

The host routes with ASP.NET Core templates (``users/{user_id:guid}``,
``{*path}``). The 404/405 function and the local dev server both need to
match paths against the registered templates; they share this one matcher,
which follows the host's rules:

- literal segments match case-insensitively (ASP.NET Core compares them
  ordinal-ignore-case), and a trailing slash is ignored;
- a literal may contain dots, also a leading one (``.well-known``): to the
  router it is just text. Only the segments ``.`` and ``..`` are special, and
  clients resolve those before sending (RFC 3986 §5.2.4);
- routes starting with ``admin`` or ``runtime`` belong to the host: it refuses
  to load a function whose route starts with either (a prefix test on the
  lower-cased route, so ``administration`` too), and answers requests under
  those segments itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PARAM = re.compile(r"^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}$")
# The host's own API space (keys, status, sync triggers; webhooks of extensions).
RESERVED_ROUTE_PREFIXES = ("admin", "runtime")
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
        """Compile ``template``; ValueError for one the host would refuse to load."""
        if template.strip("/").lower().startswith(RESERVED_ROUTE_PREFIXES):
            raise ValueError(f"route {template!r} starts with a prefix the Functions host reserves (admin, runtime)")
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
        return cls(template, re.compile(regex, re.IGNORECASE), tuple(names), constraints, precedence)

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


def is_reserved_path(path: str) -> bool:
    """Whether the host answers ``path`` itself (``/admin/...``, ``/runtime/...``): no function ever sees it."""
    first = path.strip("/").split("/", 1)[0].lower()
    return first in RESERVED_ROUTE_PREFIXES
