from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel

from activities.registry import ENTRY_POINT_GROUP, RegistryError, ToolRegistry
from activities.sdk import ToolContext, definition_of, tool
from activities.versions import Version
from tests.support.tools import EchoInput, EchoOutput, echo_v1, echo_v2


def test_decorator_reads_models_and_docstring_without_touching_the_function() -> None:
    spec = definition_of(echo_v1).spec
    assert spec.activity_name == "echo@1.0.0"
    assert spec.input_model is EchoInput
    assert spec.output_model is EchoOutput
    assert spec.description == "Return the value unchanged (version 1)."
    assert spec.input_schema()["properties"]["value"] == {"default": None, "title": "Value"}


async def test_a_tool_is_still_a_plain_async_function() -> None:
    out = await echo_v1(EchoInput(value=3), ToolContext.for_testing(echo_v1))
    assert out == EchoOutput(value=3, version="1.0.0")


class In(BaseModel):
    x: int


def test_decorator_rejects_bad_tools() -> None:
    with pytest.raises(TypeError, match="must be `async def`"):

        @tool(name="sync", version="1.0.0")
        def sync(args: In, ctx: ToolContext) -> In:
            return args

    with pytest.raises(TypeError, match="output type must be a pydantic BaseModel"):

        @tool(name="untyped", version="1.0.0")
        async def untyped(args: In, ctx: ToolContext) -> dict:  # type: ignore[type-arg]
            return {}

    with pytest.raises(ValueError, match="not a version"):
        tool(name="x", version="1.0")


def test_registry_serves_versions_side_by_side() -> None:
    registry = ToolRegistry().add(echo_v1, echo_v2)
    assert registry.versions("echo") == [Version(1, 0, 0), Version(2, 0, 0)]
    assert registry.resolve("echo@^1").key == "echo@1.0.0"
    assert registry.resolve("echo").key == "echo@2.0.0"
    with pytest.raises(RegistryError, match="no version of 'echo' matches '\\^3'"):
        registry.resolve("echo@^3")


def test_registering_a_different_implementation_under_the_same_version_fails() -> None:
    @tool(name="echo", version="1.0.0")
    async def impostor(args: EchoInput, ctx: ToolContext) -> EchoOutput:
        return EchoOutput(value=None, version="x")

    with pytest.raises(RegistryError, match="registered twice"):
        ToolRegistry().add(echo_v1, impostor)
    ToolRegistry().add(echo_v1, echo_v1)  # the same object twice is harmless


def install_entry_point(
    where: Path, monkeypatch: pytest.MonkeyPatch, dist: str, version: str, entry: str
) -> None:
    """Put a distribution declaring one tool entry point on sys.path, as pip would."""
    info = where / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry}\n")
    monkeypatch.syspath_prepend(str(where))
    importlib.invalidate_caches()


def test_tools_are_discovered_from_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's package adds tools without editing Treeflow."""
    (tmp_path / "acme_tools.py").write_text(
        textwrap.dedent(
            """
            from pydantic import BaseModel
            from treeflow import ToolContext, tool

            class In(BaseModel):
                name: str

            class Out(BaseModel):
                greeting: str

            @tool(name="acme_greet", version="0.3.0")
            async def greet(args: In, ctx: ToolContext) -> Out:
                '''Greet someone.'''
                return Out(greeting=f"hello {args.name}")
            """
        )
    )
    install_entry_point(tmp_path, monkeypatch, "acme-tools", "0.3.0", "acme = acme_tools")
    try:
        registry = ToolRegistry.discover()
        assert registry.resolve("acme_greet@^0.3").key == "acme_greet@0.3.0"
        assert "text_response" in registry.names()
        assert ToolRegistry.discover(entry_points=False).versions("acme_greet") == []
    finally:
        sys.modules.pop("acme_tools", None)


def test_a_broken_entry_point_is_reported_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_entry_point(tmp_path, monkeypatch, "bad-tools", "1.0.0", "bad = no_such_module_x")
    with pytest.raises(RegistryError, match="tool entry point 'bad'"):
        ToolRegistry.discover()
