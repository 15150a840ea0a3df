"""The Studio's scope roots (studio/src/tree/scope.ts) are the compiler's (workflows/scope.py)."""

from __future__ import annotations

import re
from pathlib import Path

from workflows.scope import SCOPE_NAMES

SCOPE_TS = Path(__file__).resolve().parents[2] / "studio" / "src" / "tree" / "scope.ts"


def test_the_studio_offers_exactly_the_compilers_scope_names() -> None:
    declared = re.search(r"SCOPE_ROOTS = \[([^\]]*)\]", SCOPE_TS.read_text(encoding="utf-8"))
    assert declared is not None, "SCOPE_ROOTS not found in scope.ts"
    roots = set(re.findall(r'"([a-z_]+)"', declared.group(1)))
    assert roots == set(SCOPE_NAMES)
