"""`treeflow compile` and `treeflow run` on hostile tree files: exit code 1, the node
path, no traceback, bounded time (a timeout guards against hangs) and flat memory
(each process runs under a 1 GiB address-space limit)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from workflows import limits

REPO = Path(__file__).resolve().parents[2]
TREEFLOW = str(Path(sys.executable).parent / "treeflow")
ADDRESS_SPACE = 1024**3  # far below what the expanding trees needed before (3+ GiB)
HANG_GUARD_SECONDS = 90  # generous: the machine is shared; a hang or an expansion ends here


# Set the limit in the child, then exec the CLI (no preexec_fn in a threaded test process).
LAUNCH = (
    "import os, resource, sys; "
    "resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]),) * 2); "
    "os.execv(sys.argv[2], sys.argv[2:])"
)


def treeflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LAUNCH, str(ADDRESS_SPACE), TREEFLOW, *args],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
        cwd=REPO,
        # A dead Temporal address: nothing here may get as far as connecting.
        env={**os.environ, "COLUMNS": "200", "TREEFLOW_TEMPORAL_ADDRESS": "127.0.0.1:9"},
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _alias_bomb() -> str:
    lines = ["name: bomb", "start: e", "state:", '  l0: &l0 ["' + "x" * 10 + '"]']
    for level in range(1, 10):
        lines.append(f"  l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join([*lines, "nodes:", "  e: {kind: end}", ""])


def _deep() -> str:
    return "name: deep\nstart: e\nnodes: {e: {kind: end}}\nstate:\n  x: " + "[" * 500 + "]" * 500


def _unary() -> str:
    rule = "- " * 1000 + "1 > 0"
    return json.dumps(
        {
            "name": "unary",
            "start": "d",
            "nodes": {
                "d": {"kind": "decision", "branches": [{"to": "e", "when": rule}, {"to": "e2"}]},
                "e": {"kind": "end"},
                "e2": {"kind": "end"},
            },
        }
    )


def _huge() -> str:
    node = "  n{0}: {{kind: end, description: " + "d" * 200 + "}}\n"
    body = "".join(node.format(i) for i in range(50_000))
    return "name: big\nstart: n0\nnodes:\n" + body


def _long_id() -> str:
    nodes = [{"id": "e", "kind": "end"}, {"id": "b" * 100_000, "kind": "end"}]
    return json.dumps({"name": "longid", "start": "e", "nodes": nodes})


def _huge_timeout() -> str:
    return (
        "name: to\nstart: t\nnodes:\n  t:\n    kind: tool\n    tool: text_response@^1\n"
        "    args: {text: hi}\n    timeout: 1.0e+300\n    next: e\n  e: {kind: end}\n"
    )


def _nan_arg() -> str:
    return (
        "name: nan\nstart: t\nnodes:\n  t:\n    kind: tool\n    tool: text_response@^1\n"
        "    args: {text: hi}\n    next: e\n  e:\n    kind: end\n    output: {x: [1, .nan]}\n"
    )


CASES: dict[str, tuple[Callable[[], str | bytes], str, str]] = {
    # name: (file content, path in the output, message in the output)
    "alias-bomb": (_alias_bomb, "state.l", f"more than {limits.MAX_DOCUMENT_VALUES} values"),
    "deep-nesting": (_deep, "state.x[0][0]", f"deeper than {limits.MAX_NESTING_DEPTH} levels"),
    "unary-rule": (_unary, "nodes.d.branches[0].when", "nested deeper than"),
    "10mb": (_huge, "(tree)", f"the limit is {limits.MAX_SOURCE_BYTES}"),
    "binary": (lambda: b"name: x\n\xff\xfe\x00\x01binary", "(tree)", "not UTF-8 text"),
    "long-id": (_long_id, "nodes.bbbb", "…(+"),
    "huge-timeout": (_huge_timeout, "nodes.t.timeout", "at most 366d"),
    "nan": (_nan_arg, "nodes.e.output.x[1]", "NaN is not a finite number"),
}


@pytest.mark.parametrize("command", ["compile", "run"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_trees_fail_cleanly_with_the_path(tmp_path: Path, command: str, case: str) -> None:
    content, path, message = CASES[case]
    file = tmp_path / f"{case}.yaml"
    data: Any = content()
    if isinstance(data, bytes):
        file.write_bytes(data)
    else:
        file.write_text(data)
    result = treeflow(command, str(file))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-2000:]
    assert "Traceback" not in output
    assert "panicked" not in output
    assert path in output, output[-2000:]
    assert message in output, output[-2000:]
    assert len(output) < 20_000  # quoted user text is cut


def test_nested_subtrees_compile_to_a_linear_size(tmp_path: Path) -> None:
    spec: dict[str, Any] = {"name": "leaf", "start": "e", "nodes": {"e": {"kind": "end"}}}
    for level in range(18):
        spec = {
            "name": f"t{level}",
            "start": "s",
            "nodes": {"s": {"kind": "subtree", "spec": spec, "next": "e"}, "e": {"kind": "end"}},
        }
    file = tmp_path / "nested.json"
    file.write_text(json.dumps(spec))
    assert len(file.read_bytes()) < 3_000
    result = treeflow("compile", "--json", str(file))
    assert result.returncode == 0, result.stderr[-2000:]
    compiled = json.loads(result.stdout)
    assert len(compiled["subtrees"]) == 18
    # Before: each level carried a copy of everything below it (169 MB at depth 18).
    assert len(result.stdout) < 200_000


def test_run_refuses_non_finite_and_deep_inputs(tmp_path: Path) -> None:
    file = tmp_path / "echo.yaml"
    file.write_text("name: t\nstart: e\nnodes:\n  e: {kind: end}\n")
    deep = "[" * 300 + "]" * 300
    for value, path, message in [
        ("NaN", "inputs.x", "NaN is not a finite number"),
        (deep, "inputs.x[0][0]", f"nested deeper than {limits.MAX_INPUT_DEPTH} levels"),
    ]:
        result = treeflow("run", str(file), "--input", f"x={value}")
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "Traceback" not in output
        assert path in output
        assert message in output
