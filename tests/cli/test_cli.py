"""The `treeflow` command as users run it: real processes, real exit codes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.support.trees import tree_file
from treeflow.devserver import free_port

REPO = Path(__file__).resolve().parents[2]
TREEFLOW = str(Path(sys.executable).parent / "treeflow")


def treeflow(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TREEFLOW, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        # The session's worker has no payload codec (tests turn it on where they test it).
        env={**os.environ, "COLUMNS": "200", "TREEFLOW_PAYLOAD_ENCRYPTION": "false", **env},
        stdin=subprocess.DEVNULL,
        check=False,
    )


def up_args(*extra: str, port: int, ui_port: int, api_port: int | None = None) -> list[str]:
    """`treeflow up` on free ports (the API port is a fresh one unless given)."""
    api = free_port() if api_port is None else api_port
    return ["up", *extra, "--port", str(port), "--ui-port", str(ui_port), "--api-port", str(api)]


def test_compile_prints_pins_and_hash() -> None:
    result = treeflow("compile", "templates/support-triage/tree.yaml")
    assert result.returncode == 0, result.stderr
    assert "ok support-triage 1.0.0" in result.stdout
    assert "classify: router@1.1.0" in result.stdout  # the newest router version


def test_compile_reports_every_problem_with_its_path(tmp_path: Path) -> None:
    bad = tree_file(
        tmp_path / "bad.yaml",
        """
        name: bad
        start: a
        nodes:
          a: {kind: tool, tool: "summarize@^9", next: b, args: {max_sentences: 0}}
          b: {kind: tool, tool: nosuch, next: c}
        """,
    )
    result = treeflow("compile", str(bad))
    assert result.returncode == 1
    assert "3 problem(s)" in result.stderr
    assert "nodes.a.tool: no version of 'summarize' matches '^9'" in result.stderr
    assert "nodes.b.tool: unknown tool 'nosuch'" in result.stderr
    assert "nodes.b.next: unknown node 'c'" in result.stderr


def test_compile_json_output_is_the_compiled_tree() -> None:
    result = treeflow("compile", "--json", "templates/document-digest/tree.yaml")
    assert result.returncode == 0
    compiled = json.loads(result.stdout)
    assert compiled["spec"]["nodes"]["digest_section"]["tool"] == "summarize@1.0.0"
    assert len(compiled["hash"]) == 64


def test_published_schema_validates_templates_and_rejects_bad_trees() -> None:
    import jsonschema
    import yaml

    schema = json.loads(treeflow("schema").stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted((REPO / "templates").glob("*/tree.yaml")):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert errors == [], f"{path}: {errors[0].message if errors else ''}"
    bad = {"name": "x", "start": "a", "nodes": {"a": {"kind": "tool"}}}
    assert list(validator.iter_errors(bad)), "a tool node without `tool` must be invalid"


def test_tools_and_templates_are_listed() -> None:
    tools = treeflow("tools")
    assert "text_response@1.0.0" in tools.stdout
    assert "http_request@1.0.0" in tools.stdout
    listed = treeflow("templates")
    assert "support-triage" in listed.stdout
    assert "incident-review" in listed.stdout


@pytest.mark.slow
def test_up_once_runs_a_template_end_to_end(tmp_path: Path) -> None:
    """The README's first command, minus the install: stack up, template run, clean exit."""
    port, ui_port = free_port(), free_port()
    result = treeflow(
        *up_args("--once", "--template", "incident-review", port=port, ui_port=ui_port),
        "--data-dir",
        str(tmp_path),
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "outcome completed" in out
    assert "answering review with 'approve' (sample)" in out
    assert "Incident summary" in out
    assert f"http://localhost:{ui_port}/namespaces/default/workflows/" in out
    assert "%3Aincident-review-" in out  # <demo tenant id>:<template>-<suffix>
    assert "stopped." in out
    assert (tmp_path / "temporal.db").exists()  # persistence in a local SQLite file


@pytest.mark.slow
def test_up_once_default_is_the_qa_template_on_demo_data_loaded_on_first_use(
    tmp_path: Path,
) -> None:
    """`./dev up` on a fresh machine: the demo tickets are loaded, the QA run cites them."""
    port, ui_port = free_port(), free_port()
    args = up_args("--once", port=port, ui_port=ui_port)
    first = treeflow(*args, "--data-dir", str(tmp_path), timeout=180)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"loaded the demo support tickets into {tmp_path / 'retrieval'}" in first.stdout
    assert "ticket-qa 1.0.0 · outcome completed" in first.stdout
    assert "path: search → found → answer → reply → done" in first.stdout
    assert "charged" in first.stdout
    assert "[1]" in first.stdout
    again = treeflow(*args, "--data-dir", str(tmp_path), timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "loaded the demo" not in again.stdout  # loaded once, kept on disk


def test_data_load_list_and_demo(tmp_path: Path) -> None:
    csv = tmp_path / "products.csv"
    csv.write_text("sku,name,price,launched\nA-1,Anvil,12.5,2024-01-02\nB-2,Bolt,0.75,2024-03-04\n")
    store = str(tmp_path / "store")
    loaded = treeflow("data", "load", str(csv), "--collection", "products", "--path", store)
    assert loaded.returncode == 0, loaded.stderr
    assert "created Products" in loaded.stdout
    assert "2 records" in loaded.stdout
    assert "price" in loaded.stdout
    assert "number" in loaded.stdout
    again = treeflow("data", "load", str(csv), "--collection", "products", "--path", store)
    assert "updated Products" in again.stdout
    assert "2 objects now" in again.stdout  # re-imports update, they do not duplicate
    demo = treeflow("data", "demo", "--path", store)
    assert demo.returncode == 0, demo.stderr
    assert "SupportTickets" in demo.stdout
    listed = treeflow("data", "list", "--path", store)
    assert "Products" in listed.stdout
    assert "SupportTickets" in listed.stdout
    assert "300" in listed.stdout


def test_data_load_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "x.txt"
    bad.write_text("nope")
    result = treeflow("data", "load", str(bad), "--collection", "x", "--path", str(tmp_path / "s"))
    assert result.returncode == 1
    assert "Cannot tell the format of 'x.txt'" in result.stderr
    weaviate = treeflow(
        "data", "load", str(bad), "-c", "x", "--backend", "mongo", "--path", str(tmp_path)
    )
    assert weaviate.returncode == 2
    assert "unknown backend 'mongo'" in weaviate.stderr


def test_run_against_a_server_reports_bad_inputs(dev_server: object) -> None:
    address = dev_server.address  # type: ignore[attr-defined]
    result = treeflow(
        "run",
        "support-triage",
        "--input",
        "question=5",
        "--input",
        "colour=red",
        TREEFLOW_TEMPORAL_ADDRESS=address,
    )
    assert result.returncode == 2
    assert "inputs.colour: unknown input" in result.stderr
    assert "inputs.question: expected string, got int" in result.stderr


async def test_run_prints_each_step_as_an_event_while_it_runs(
    dev_server: object, worker: str, tmp_path: Path
) -> None:
    """`treeflow run` follows the run through the event stream: one line per step."""
    source = tree_file(
        tmp_path / "steps.yaml",
        """
        name: cli-steps
        start: greet
        nodes:
          greet: {kind: tool, tool: text_response@^1, args: {text: hi}, next: check}
          check:
            kind: decision
            branches:
              - {to: ask, when: "results.greet.text == 'hi'"}
              - {to: done}
          ask: {kind: input, prompt: "go on?", save_as: go, timeout: 1s, on_timeout: done,
                next: done}
          done: {kind: end, output: {ok: "yes"}}
        """,
    )
    # The session worker runs in this event loop: start the CLI without blocking it.
    process = await asyncio.create_subprocess_exec(
        TREEFLOW,
        "run",
        str(source),
        cwd=REPO,
        env={
            **os.environ,
            "COLUMNS": "200",
            "TREEFLOW_PAYLOAD_ENCRYPTION": "false",
            "TREEFLOW_TEMPORAL_ADDRESS": dev_server.address,  # type: ignore[attr-defined]
            "TREEFLOW_TEMPORAL_TASK_QUEUE": worker,
        },
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    stdout = out.decode()
    assert process.returncode == 0, stdout + err.decode()
    lines = [line.strip() for line in stdout.splitlines()]
    expected = [
        "▸ greet tool text_response@1.0.0",
        "▸ check decision rules",
        "↳ ask (results.greet.text == 'hi')",
        "▸ ask input",
        "? ask: go on?",
        "waiting for an answer to ask",
        "✘ ask",
        "▸ done end",
        "✔ done",
        "✔ cli-steps",
    ]
    found = [next(i for i, line in enumerate(lines) if line.startswith(e)) for e in expected]
    assert found == sorted(found), stdout


def test_processes_using_the_temporal_client_exit_cleanly(dev_server: object) -> None:
    """sdk-python #300: a client process can abort at exit; ours must not (20 tries)."""
    address = dev_server.address  # type: ignore[attr-defined]
    script = textwrap.dedent(
        f"""
        import asyncio
        from temporalio.client import Client
        from treeflow.exit import exit_now

        async def main() -> None:
            client = await Client.connect("{address}")
            await client.count_workflows()

        asyncio.run(main())
        print("done", flush=True)
        exit_now(0)
        """
    )
    codes = []
    for _ in range(20):
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
            check=False,
        )
        codes.append((done.returncode, done.stdout.strip()))
    assert codes == [(0, "done")] * 20


def test_temporal_setup_registers_search_attributes_once(tmp_path: Path) -> None:
    """Against a bare dev server (no attributes), then again (idempotent)."""
    from treeflow.devserver import DevServer

    bare = DevServer(
        port=free_port(),
        ui_port=None,
        log_file=tmp_path / "log",
        register_search_attributes=False,
    )
    with bare.running():
        first = treeflow("temporal-setup", TREEFLOW_TEMPORAL_ADDRESS=bare.address)
        assert first.returncode == 0, first.stderr
        assert "TenantId, TreeName, TreeVersion, TreeHash, RunStatus" in first.stdout
        second = treeflow("temporal-setup", TREEFLOW_TEMPORAL_ADDRESS=bare.address)
        assert "all present" in second.stdout


@pytest.mark.slow
def test_up_stays_up_until_ctrl_c_then_stops_everything(tmp_path: Path) -> None:
    import signal
    import time

    from treeflow.devserver import port_open

    port, ui_port, api_port = free_port(), free_port(), free_port()
    process = subprocess.Popen(
        [
            TREEFLOW,
            *up_args(port=port, ui_port=ui_port, api_port=api_port),
            "--data-dir",
            str(tmp_path),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    for line in process.stdout:
        lines.append(line)
        if "The stack stays up" in line or time.monotonic() > deadline:
            break
    assert any("The stack stays up" in line for line in lines), "".join(lines)
    assert port_open(port)
    assert port_open(ui_port)
    # The API serves the demo tenant with the key `up` wrote; the demo run is listed.
    key = (tmp_path / "dev-api-key").read_text().strip()
    tenant = (
        next(line for line in lines if "demo tenant" in line).split("demo tenant ")[1].split()[0]
    )
    runs: list[dict[str, str]] = []
    for _ in range(50):
        answer = httpx.get(
            f"http://127.0.0.1:{api_port}/v1/tenants/{tenant}/runs",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        runs = answer.json()["runs"]
        if runs:
            break
        time.sleep(0.2)
    assert [r["status"] for r in runs] == ["completed"]
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, "".join(lines) + rest
    assert "stopped." in rest
    assert not port_open(port)


async def _chat_ticket_agent(
    dev_server: object, worker: str, **env: str
) -> asyncio.subprocess.Process:
    """`treeflow chat ticket-agent` against the test server and worker, every stream piped."""
    return await asyncio.create_subprocess_exec(
        TREEFLOW,
        "chat",
        "ticket-agent",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO,
        env={
            **os.environ,
            **env,
            "TREEFLOW_PAYLOAD_ENCRYPTION": "false",
            "TREEFLOW_TEMPORAL_ADDRESS": dev_server.address,  # type: ignore[attr-defined]
            "TREEFLOW_TEMPORAL_TASK_QUEUE": worker,
        },
    )


async def test_chat_answers_each_line_with_the_earlier_turns_in_view(
    dev_server: object, worker: str
) -> None:
    """`treeflow chat ticket-agent` fed two lines on stdin: the follow-up keeps the first
    turn's ticket set; end of input ends the conversation with exit code 0."""
    process = await _chat_ticket_agent(dev_server, worker, COLUMNS="200")
    lines = b"How many billing tickets are open?\nAnd which of those mention refunds?\n"
    out, err = await asyncio.wait_for(process.communicate(lines), timeout=120)
    text = out.decode()
    assert process.returncode == 0, err.decode()
    assert "1> 12 tickets match" in text
    assert "path: decide → analyze → decide → respond → done" in text
    assert "Tickets: TCK-000279, TCK-000057, TCK-000091, TCK-000235, TCK-000019, TCK-000289" in text
    assert "2> " in text


async def test_chat_exits_on_the_exit_command(dev_server: object, worker: str) -> None:
    process = await _chat_ticket_agent(dev_server, worker)
    # the pipe stays open: only /exit can end the session
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(b"/exit\n")
    await process.stdin.drain()
    code = await asyncio.wait_for(process.wait(), timeout=60)
    assert code == 0
    assert "conversation c-" in (await process.stdout.read()).decode()


def test_chat_with_a_tree_that_has_no_string_input_fails_clearly(
    tmp_path: Path, dev_server: object
) -> None:
    tree = tree_file(
        tmp_path / "counter.yaml",
        """
        name: counter
        inputs: {n: {type: integer}}
        start: done
        nodes:
          done: {kind: end}
        """,
    )
    result = treeflow(
        "chat",
        str(tree),
        TREEFLOW_TEMPORAL_ADDRESS=dev_server.address,  # type: ignore[attr-defined]
    )
    assert result.returncode == 1
    assert "input: name the tree input each message fills" in result.stderr
