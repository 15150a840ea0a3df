"""What git tracks: no symlink that leaves the repository (a checkout's .venv or
node_modules linked into another one breaks every fresh clone) and no file whose name
reads as a command-line option."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SYMLINK_MODE = "120000"


def _tracked() -> list[tuple[str, str]]:
    """(mode, path) of every tracked file."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: nothing tracked to check")
    listing = subprocess.run(
        ["git", "ls-files", "-s", "-z"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    rows = []
    for entry in filter(None, listing.split("\0")):
        meta, path = entry.split("\t", 1)
        rows.append((meta.split()[0], path))
    return rows


def test_tracked_symlinks_stay_inside_the_repository() -> None:
    leaving = []
    for mode, path in _tracked():
        if mode != SYMLINK_MODE:
            continue
        target = os.readlink(REPO / path)
        resolved = (REPO / path).parent.joinpath(target).resolve()
        if os.path.isabs(target) or not resolved.is_relative_to(REPO):
            leaving.append(f"{path} -> {target}")
    assert leaving == [], f"symlinks out of the repository are tracked: {leaving}"


def test_no_tracked_file_is_named_like_an_option() -> None:
    odd = [path for _, path in _tracked() if Path(path).name.startswith("-")]
    assert odd == [], f"files named like options are tracked: {odd}"
