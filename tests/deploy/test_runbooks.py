"""Runbooks and alert rules point at each other, and at dashboard panels that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.deploy.conftest import REPO

RUNBOOKS = REPO / "docs" / "runbooks"
RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "treeflow-dashboard.json"
# The ten incidents issue 13 names, one page each.
INCIDENTS = {
    "temporal-unreachable.md",
    "task-queue-backlog.md",
    "runs-stuck.md",
    "tool-version-missing.md",
    "database.md",
    "flag-backend-down.md",
    "identity-provider-down.md",
    "secret-key-rotation.md",
    "api-5xx.md",
    "payload-codec-key-lost.md",
}
_ALERT = re.compile(r"`(Treeflow[A-Za-z0-9]+)`")


def alerts() -> dict[str, str]:
    """Alert name -> its runbook annotation."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r["alert"]: r["annotations"]["runbook"] for g in groups for r in g["rules"]}


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 _-]", "", h.lower()).replace(" ", "-") for h in headings}


def panel_titles() -> set[str]:
    return {p["title"] for p in json.loads(DASHBOARD.read_text())["panels"]}


def test_every_alert_links_an_existing_runbook_heading() -> None:
    for name, link in alerts().items():
        path, _, anchor = link.partition("#")
        page = REPO / path
        assert page.is_file(), f"{name}: {path} does not exist"
        assert anchor in anchors(page.read_text()), f"{name}: no heading #{anchor} in {path}"


def test_every_incident_runbook_names_real_alerts_a_real_panel_and_the_steps() -> None:
    assert {p.name for p in RUNBOOKS.glob("*.md")} >= INCIDENTS
    defined = set(alerts())
    titles = panel_titles()
    for name in sorted(INCIDENTS):
        text = (RUNBOOKS / name).read_text()
        alert_line = next(line for line in text.splitlines() if line.startswith("- **Alert:**"))
        named = set(_ALERT.findall(alert_line))
        assert named, f"{name} names no alert"
        assert named <= defined, f"{name}: {named - defined} not in alerts.yml"
        panel = re.search(r'\*\*Dashboard panel:\*\* "([^"]+)"', text)
        assert panel, f"{name} names no dashboard panel"
        assert panel.group(1) in titles, f"{name}: no panel {panel.group(1)!r}"
        assert "### Diagnose" in text, name
        assert "### Fix" in text, name
        assert "```bash" in text, f"{name} gives no commands"


def test_the_index_lists_every_incident() -> None:
    index = (RUNBOOKS / "README.md").read_text()
    for name in INCIDENTS:
        assert f"]({name})" in index, name


def test_the_link_check_can_fail(tmp_path: Path) -> None:
    assert "treeflowrunsstuck" in anchors("## TreeflowRunsStuck\n")
    assert "treeflowrunsstuck" not in anchors("## TreeflowRunStuck\n")
    assert _ALERT.findall("- **Alert:** `TreeflowNope`") == ["TreeflowNope"]
    assert "TreeflowNope" not in alerts()
