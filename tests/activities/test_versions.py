from __future__ import annotations

import pytest

from activities.versions import Constraint, ToolRef, Version, VersionError

V = Version.parse


@pytest.mark.parametrize(
    ("constraint", "allowed", "refused"),
    [
        ("*", ["0.0.1", "9.9.9"], []),
        ("", ["1.0.0"], []),
        ("^2", ["2.0.0", "2.9.3"], ["1.9.9", "3.0.0"]),
        ("^2.1", ["2.1.0", "2.5.0"], ["2.0.9", "3.0.0"]),
        ("^0.2", ["0.2.0", "0.2.9"], ["0.3.0", "0.1.9"]),
        ("^0.0.3", ["0.0.3"], ["0.0.4", "0.0.2"]),
        ("~1.2", ["1.2.0", "1.2.7"], ["1.3.0", "1.1.9"]),
        ("~1", ["1.0.0", "1.9.0"], ["2.0.0"]),
        ("1.2.3", ["1.2.3"], ["1.2.4"]),
        ("=1.2.3", ["1.2.3"], ["1.2.2"]),
        ("1.2", ["1.2.0", "1.2.9"], ["1.3.0"]),
        ("1", ["1.0.0", "1.99.0"], ["2.0.0", "0.9.0"]),
        (">=1.2,<2", ["1.2.0", "1.9.9"], ["1.1.9", "2.0.0"]),
        (">1.0.0", ["1.0.1"], ["1.0.0"]),
        ("<=1.5", ["1.5.0", "0.1.0"], ["1.5.1"]),
    ],
)
def test_constraints(constraint: str, allowed: list[str], refused: list[str]) -> None:
    parsed = Constraint.parse(constraint)
    for version in allowed:
        assert parsed.allows(V(version)), f"{constraint} should allow {version}"
    for version in refused:
        assert not parsed.allows(V(version)), f"{constraint} should refuse {version}"


def test_best_picks_the_highest_matching_version() -> None:
    versions = [V("1.0.0"), V("2.0.0"), V("2.3.1"), V("3.0.0")]
    assert Constraint.parse("^2").best(versions) == V("2.3.1")
    assert Constraint.parse("^4").best(versions) is None
    assert Constraint.parse("*").best(versions) == V("3.0.0")


@pytest.mark.parametrize("bad", ["1.2.3.4", "01.2.3", "v1", "1.x", "^", ">=a"])
def test_malformed_constraints_are_errors(bad: str) -> None:
    with pytest.raises(VersionError):
        Constraint.parse(bad)


def test_version_order_is_semantic_not_lexical() -> None:
    assert V("1.10.0") > V("1.9.0")
    assert sorted([V("0.10.0"), V("0.2.0")]) == [V("0.2.0"), V("0.10.0")]


def test_tool_ref_splits_name_and_constraint() -> None:
    ref = ToolRef.parse("query@^2")
    assert ref.name == "query"
    assert ref.constraint.allows(V("2.4.0"))
    assert ToolRef.parse("summarize").constraint.text == "*"
    with pytest.raises(VersionError, match="not a tool name"):
        ToolRef.parse("Bad Name@1")
