"""TREEFLOW_WORKER_TOOL_MODULES reaches every process: CLI, API and worker build one registry."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from fastapi import FastAPI

from activities.tool_modules import ToolModuleError, build_registry
from api.db.models import Role
from api.settings import Settings
from tests.api.conftest import create_actor, create_tenant
from tests.cli.test_cli import REPO, treeflow
from worker.runner import registry_for
from worker.settings import WorkerSettings

TOOL_SOURCE = '''
from pydantic import BaseModel

from treeflow import ToolContext, tool


class Greeting(BaseModel):
    who: str


class Greeted(BaseModel):
    text: str


@tool(name="{name}", version="1.2.0")
async def greet(args: Greeting, ctx: ToolContext) -> Greeted:
    """Greet someone (a tool shipped as a plain module)."""
    return Greeted(text="hello " + args.who)
'''


def tree_using(tool_name: str) -> str:
    return textwrap.dedent(
        f"""
        name: shipped-{tool_name.replace("_", "-")}
        start: hi
        nodes:
          hi:
            kind: tool
            tool: "{tool_name}@^1"
            args: {{who: "{{{{ inputs.who }}}}"}}
            next: done
          done: {{kind: end}}
        inputs:
          who: {{type: string}}
        """
    )


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, Path]:
    """(module, tool name, folder): a tool module on PYTHONPATH, named in the variable."""
    suffix = uuid.uuid4().hex[:8]
    module, tool_name = f"shipped_tools_{suffix}", f"shipped_greeting_{suffix}"
    (tmp_path / f"{module}.py").write_text(TOOL_SOURCE.replace("{name}", tool_name))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("TREEFLOW_WORKER_TOOL_MODULES", json.dumps([module]))
    return module, tool_name, tmp_path


def cli(folder: Path, modules: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    """`treeflow ARGS` with ``folder`` on PYTHONPATH and ``modules`` configured."""
    return treeflow(
        *args,
        PYTHONPATH=os.pathsep.join([str(folder), str(REPO)]),
        TREEFLOW_WORKER_TOOL_MODULES=json.dumps(modules),
    )


def test_cli_compile_and_tools_see_shipped_tools(shipped: tuple[str, str, Path]) -> None:
    module, tool_name, folder = shipped
    tree = folder / "tree.yaml"
    tree.write_text(tree_using(tool_name))
    compiled = cli(folder, [module], "compile", str(tree))
    assert compiled.returncode == 0, compiled.stderr
    assert f"hi: {tool_name}@1.2.0" in compiled.stdout
    listed = cli(folder, [f"{module}:greet"], "tools")
    assert listed.returncode == 0, listed.stderr
    assert f"{tool_name}@1.2.0" in listed.stdout
    without = cli(folder, [], "compile", str(tree))
    assert without.returncode == 1
    assert f"nodes.hi.tool: unknown tool '{tool_name}'" in without.stderr


def test_a_module_that_cannot_load_is_a_clean_cli_error(shipped: tuple[str, str, Path]) -> None:
    module, _, folder = shipped
    for modules, message in [
        (["no_such_tools_module"], "cannot import 'no_such_tools_module'"),
        ([f"{module}:missing"], f"'{module}' has no 'missing'"),
    ]:
        result = cli(folder, modules, "tools")
        assert result.returncode == 1
        assert "TREEFLOW_WORKER_TOOL_MODULES" in result.stderr
        assert message in result.stderr
        assert "Traceback" not in result.stderr + result.stdout


def test_worker_and_default_registry_are_the_same(shipped: tuple[str, str, Path]) -> None:
    _, tool_name, _ = shipped
    worker_tools = {d.spec.activity_name for d in registry_for(WorkerSettings())}
    assert f"{tool_name}@1.2.0" in worker_tools
    assert worker_tools == {d.spec.activity_name for d in build_registry()}
    with pytest.raises(ToolModuleError, match="cannot import 'nope_module'"):
        build_registry(["nope_module"])


async def test_the_api_compiles_trees_with_shipped_tools(
    shipped: tuple[str, str, Path],
    start_app: Callable[[Settings], Awaitable[FastAPI]],
    make_settings: Callable[..., Settings],
) -> None:
    _, tool_name, _ = shipped
    app = await start_app(make_settings())
    tenant = await create_tenant(app.state.services, "shipped")
    actor = await create_actor(app, "author", {tenant: Role.ADMIN})
    try:
        created = await actor.client.post(
            f"/v1/tenants/{tenant}/trees", json={"source": tree_using(tool_name)}
        )
        assert created.status_code == 201, created.text
        assert created.json()["version"]["pins"] == {"hi": f"{tool_name}@1.2.0"}
        tools = await actor.client.get(f"/v1/tenants/{tenant}/tools")
        assert tool_name in tools.text
    finally:
        await actor.client.aclose()
