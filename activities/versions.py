"""Semantic versions and version constraints for tools (`query@^2`, `summarize@~1.2`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import total_ordering

_VERSION_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_PARTIAL_RE = re.compile(r"^(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?$")
_COMPARATOR_RE = re.compile(r"^(>=|<=|>|<|==|=)?\s*(.+)$")


class VersionError(ValueError):
    """A version or constraint string is malformed."""


@total_ordering
@dataclass(frozen=True, slots=True)
class Version:
    """An exact `major.minor.patch` version."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION_RE.match(text.strip())
        if not match:
            raise VersionError(f"'{text}' is not a version of the form MAJOR.MINOR.PATCH")
        return cls(int(match[1]), int(match[2]), int(match[3]))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return (self.major, self.minor, self.patch) < (other.major, other.minor, other.patch)


@dataclass(frozen=True, slots=True)
class _Bound:
    op: str
    version: Version

    def allows(self, candidate: Version) -> bool:
        match self.op:
            case ">=":
                return candidate >= self.version
            case ">":
                return candidate > self.version
            case "<=":
                return candidate <= self.version
            case "<":
                return candidate < self.version
            case _:
                return candidate == self.version


def _partial(text: str) -> tuple[int, int | None, int | None]:
    match = _PARTIAL_RE.match(text.strip())
    if not match:
        raise VersionError(f"'{text}' is not a version")
    return int(match[1]), _opt_int(match[2]), _opt_int(match[3])


def _opt_int(value: str | None) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class Constraint:
    """A set of acceptable versions, written npm/cargo style.

    Accepted forms: `*` or empty (any), `1.2.3` (exact), `^1.2` (compatible: same
    major, or same minor below 1.0), `~1.2` (same minor), `1` / `1.2` (prefix),
    and comma-separated comparators such as `>=1.2,<2`.
    """

    text: str
    bounds: tuple[_Bound, ...]

    @classmethod
    def parse(cls, text: str | None) -> Constraint:
        raw = (text or "*").strip()
        if raw in ("*", "latest", ""):
            return cls("*", ())
        bounds: list[_Bound] = []
        for part in raw.split(","):
            bounds.extend(_parse_part(part.strip()))
        return cls(raw, tuple(bounds))

    def allows(self, version: Version) -> bool:
        return all(bound.allows(version) for bound in self.bounds)

    def best(self, versions: Iterable[Version]) -> Version | None:
        """The highest version that satisfies the constraint, or None."""
        matching = [v for v in versions if self.allows(v)]
        return max(matching) if matching else None

    def __str__(self) -> str:
        return self.text


def _parse_part(part: str) -> list[_Bound]:
    if not part:
        raise VersionError("empty version constraint")
    if part[0] == "^":
        return _caret(*_partial(part[1:]))
    if part[0] == "~":
        return _tilde(*_partial(part[1:]))
    match = _COMPARATOR_RE.match(part)
    if not match:
        raise VersionError(f"'{part}' is not a version constraint")
    op, rest = match[1], match[2]
    if op in (None, "=", "=="):
        return _exact(*_partial(rest))
    major, minor, patch = _partial(rest)
    return [_Bound(op, Version(major, minor or 0, patch or 0))]


def _caret(major: int, minor: int | None, patch: int | None) -> list[_Bound]:
    """`^1.2.3`: the same leftmost non-zero part (`^0.2` stays below `0.3`)."""
    low = Version(major, minor or 0, patch or 0)
    if major > 0 or minor is None:
        high = Version(major + 1, 0, 0)
    elif minor > 0 or patch is None:
        high = Version(0, minor + 1, 0)
    else:
        high = Version(0, 0, (patch or 0) + 1)
    return [_Bound(">=", low), _Bound("<", high)]


def _tilde(major: int, minor: int | None, patch: int | None) -> list[_Bound]:
    """`~1.2.3`: patch updates only (`~1`: any 1.x)."""
    low = Version(major, minor or 0, patch or 0)
    high = Version(major + 1, 0, 0) if minor is None else Version(major, minor + 1, 0)
    return [_Bound(">=", low), _Bound("<", high)]


def _exact(major: int, minor: int | None, patch: int | None) -> list[_Bound]:
    """`1.2.3` is that version; `1.2` and `1` are every version they name."""
    if patch is not None:
        return [_Bound("==", Version(major, minor or 0, patch))]
    if minor is not None:
        return [_Bound(">=", Version(major, minor, 0)), _Bound("<", Version(major, minor + 1, 0))]
    return [_Bound(">=", Version(major, 0, 0)), _Bound("<", Version(major + 1, 0, 0))]


@dataclass(frozen=True, slots=True)
class ToolRef:
    """A tool name with a version constraint, as written in a tree (`query@^2`)."""

    name: str
    constraint: Constraint

    @classmethod
    def parse(cls, text: str) -> ToolRef:
        name, _, constraint = text.partition("@")
        name = name.strip()
        if not re.fullmatch(r"[a-z][a-z0-9_.-]*", name):
            raise VersionError(
                f"'{name}' is not a tool name (lowercase letters, digits, '_', '-', '.')"
            )
        return cls(name, Constraint.parse(constraint))


def activity_name(name: str, version: Version | str) -> str:
    """The Temporal activity type for one tool version: `name@x.y.z`."""
    return f"{name}@{version}"
