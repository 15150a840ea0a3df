"""Recorded workflow histories on disk and replaying them on today's workflow code.

One folder holds `<name>.json` histories and an `index.json` mapping each name to its
workflow id (written by `python -m tests.support.record_histories`).
"""

from __future__ import annotations

import json
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from temporal_client.connection import data_converter

HISTORIES_ROOT = Path(__file__).parents[1] / "histories"


class HistoryFolder:
    """The recorded histories of one folder, sorted by name."""

    def __init__(self, folder: Path) -> None:
        self.index: dict[str, str] = json.loads((folder / "index.json").read_text())
        self.paths = sorted(p for p in folder.glob("*.json") if p.name != "index.json")
        self.ids = [p.stem for p in self.paths]

    def load(self, path: Path) -> WorkflowHistory:
        return WorkflowHistory.from_json(self.index[path.stem], path.read_text())

    async def replay_failure(self, workflow: type, path: Path) -> Exception | None:
        """The failure replaying `path` on `workflow` raises, or None when it replays."""
        replayer = Replayer(workflows=[workflow], data_converter=data_converter())
        result = await replayer.replay_workflow(self.load(path), raise_on_replay_failure=False)
        return result.replay_failure
