"""Pre-built decision trees, each with sample inputs that run offline."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, Field


class Expectation(BaseModel):
    """What a sample run must show (checked by the test suite)."""

    outcome: str = "completed"
    visits: list[str] = Field(default_factory=list, description="Nodes the path must include.")
    skips: list[str] = Field(default_factory=list, description="Nodes the path must not include.")
    output_contains: dict[str, str] = Field(
        default_factory=dict, description="Output key -> substring its text must contain."
    )


class FollowUp(BaseModel):
    """A later message of a conversation that starts with the sample's inputs."""

    message: str
    expect: Expectation = Expectation()


class Sample(BaseModel):
    """A named set of run inputs, plus answers for input nodes when it runs unattended."""

    name: str
    description: str = ""
    inputs: dict[str, Any]
    answers: dict[str, Any] = Field(default_factory=dict)
    expect: Expectation = Expectation()
    model_script: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Rules of the scripted model (`contains` -> `reply`) that stand in for "
        "the LLM when the sample runs in tests; write them to match this sample's question.",
    )
    follow_ups: list[FollowUp] = Field(
        default_factory=list,
        description="Later messages when the sample is a conversation's first turn (its "
        "message fills the tree's only declared input); each turn sees the earlier ones.",
    )


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    samples: tuple[Sample, ...]

    @property
    def description(self) -> str:
        data = yaml.safe_load(self.text)
        return str(data.get("description", "")).strip()


class UnknownTemplate(LookupError):
    pass


def model_script() -> list[dict[str, Any]]:
    """Every sample's scripted-model rules, for a test worker's `llm` config."""
    return [
        rule for template in all_templates() for s in template.samples for rule in s.model_script
    ]


def _root() -> resources.abc.Traversable:
    return resources.files(__name__)


def names() -> list[str]:
    return sorted(
        entry.name
        for entry in _root().iterdir()
        if entry.is_dir() and (entry / "tree.yaml").is_file()
    )


def load(name: str) -> Template:
    folder = _root() / name
    if name not in names():
        raise UnknownTemplate(f"unknown template '{name}' (available: {', '.join(names())})")
    samples_file = folder / "samples.yaml"
    raw = yaml.safe_load(samples_file.read_text()) if samples_file.is_file() else []
    samples = tuple(Sample.model_validate(item) for item in raw or [])
    return Template(name=name, text=(folder / "tree.yaml").read_text(), samples=samples)


def all_templates() -> list[Template]:
    return [load(name) for name in names()]


def tree_text(name: str) -> str | None:
    """The YAML of a template, or None (used to resolve `subtree` nodes by name)."""
    try:
        return load(name).text
    except UnknownTemplate:
        return None
