"""The tree interpreter: the semantics of every node kind, run inside a workflow.

`workflows.workflow.DecisionTreeWorkflow` is the thin Temporal surface; this
module holds the logic and is passed through the workflow sandbox (it is pure and
keeps no module state), so the sandbox does not re-import it for every run.
Rule decisions are evaluated here at no server cost; tools and router/LLM
decisions are activities named `name@x.y.z`. Changes here must keep old histories
replaying: see docs/workflow-versioning.md and tests/workflows/test_replay.py.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, assert_never

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    TemporalError,
    is_cancelled_exception,
)

from activities.contracts import DecisionInput, DecisionOption, DecisionOutput, ToolCall
from workflows import observe
from workflows.activity_defaults import (
    DEFAULT_HEARTBEAT_TIMEOUT_SECONDS,
    DEFAULT_TOOL_TIMEOUT_SECONDS,
)
from workflows.compiled import CompiledTree
from workflows.conversation_models import EMPTY_SCOPE, turn_data
from workflows.evaluation import RunEvaluator
from workflows.rerun import RecordedResults
from workflows.run_models import (
    Checkpoint,
    Environment,
    InputAccepted,
    Outcome,
    PendingInput,
    Phase,
    Progress,
    RunRequest,
    RunResult,
    TaskRecord,
    UserInput,
)
from workflows.scope import RunScope
from workflows.search_attributes import RUN_STATUS, for_run
from workflows.spec import (
    Branch,
    DecisionNode,
    EndNode,
    InputNode,
    Node,
    ParallelNode,
    RetrySpec,
    SubtreeNode,
    ToolNode,
)
from workflows.templating import is_templated
from workflows.tool_routing import execute_pinned
from workflows.trail import Decision, RunTrail

WORKFLOW_NAME = "DecisionTreeWorkflow"


class _Finish(Exception):
    """Internal: the walk reached a terminal point (end node, limit, agent said stop)."""

    def __init__(self, outcome: Outcome, output: dict[str, Any]) -> None:
        super().__init__(outcome)
        self.outcome = outcome
        self.output = output


def _fail(path: str, message: str, error_type: str = "TreeRunError") -> ApplicationError:
    return ApplicationError(f"{path}: {message}", type=error_type, non_retryable=True)


def retry_policy(spec: RetrySpec | None) -> RetryPolicy:
    spec = spec or RetrySpec()
    return RetryPolicy(
        initial_interval=timedelta(seconds=spec.initial_interval),
        backoff_coefficient=spec.backoff,
        maximum_interval=timedelta(seconds=spec.max_interval),
        maximum_attempts=spec.max_attempts,
        non_retryable_error_types=list(spec.non_retryable) or None,
    )


class TreeRun:
    """The state and behaviour of one run of a compiled tree."""

    def __init__(self, request: RunRequest) -> None:
        self.tree: CompiledTree = request.tree
        self.tenant_id = request.tenant_id
        self.conversation = request.conversation
        self._conversation_scope = (
            request.conversation.scope() if request.conversation else EMPTY_SCOPE
        )
        checkpoint = request.checkpoint
        if checkpoint is not None:
            self.env = checkpoint.environment
            self.generation = checkpoint.generation
            self.trail = RunTrail(checkpoint.events_before, checkpoint.generation)
        else:
            self.env = Environment(
                inputs=self._inputs_with_defaults(request.inputs),
                state=dict(self.tree.spec.state),
            )
            self.generation = 1
            self.trail = RunTrail()
        self.phase: Phase = "running"
        self.current: str | None = None
        self.waiting: dict[str, PendingInput] = {}
        self.answers: dict[str, Any] = {}
        self.output: dict[str, Any] | None = None
        self.evaluator = RunEvaluator()
        self.recorded = RecordedResults(request.rerun)

    def _inputs_with_defaults(self, inputs: dict[str, Any]) -> dict[str, Any]:
        declared = self.tree.spec.inputs or {}
        merged = {name: spec.default for name, spec in declared.items() if spec.default is not None}
        merged.update(inputs)
        return merged

    # ------------------------------------------------------------ run

    async def execute(self, request: RunRequest) -> RunResult:
        start = request.checkpoint.node if request.checkpoint else self.tree.spec.start
        try:
            outcome, output = await self._walk_top(start)
        except asyncio.CancelledError:
            self.phase = "cancelled"
            self.trail.run_ended(workflow.now(), "cancelled")
            raise
        except Exception as exc:
            self.phase = "failed"
            self.trail.run_ended(workflow.now(), "failed", error=_cause_message(exc)[:2000])
            if isinstance(exc, TemporalError):
                raise  # failures fail the run; non-determinism retries the task (see docs)
            where = f"nodes.{self.current}" if self.current else "start"
            raise _fail(where, f"{type(exc).__name__}: {exc}", "InternalError") from exc
        except BaseException:
            self.phase = "failed"
            raise
        self.phase = "completed"
        self.output = output
        self.trail.output(workflow.now(), output)
        self.trail.run_ended(workflow.now(), "completed", outcome=outcome)
        if outcome != "completed":
            workflow.upsert_search_attributes([RUN_STATUS.value_set(outcome)])
        spec = self.tree.spec
        return RunResult(
            outcome=outcome,
            output=output,
            path=self.env.path,
            steps=self.env.steps,
            tasks=self.env.tasks,
            errors=self.env.errors,
            tree=spec.name,
            tree_version=spec.version,
            tree_hash=self.tree.hash,
            turn_data=turn_data(self.env.state, self.env.results) if self.conversation else None,
        )

    async def _walk_top(self, node_id: str) -> tuple[Outcome, dict[str, Any]]:
        try:
            await self._walk(node_id, stop_at=None, top_level=True)
        except _Finish as finish:
            return finish.outcome, finish.output
        return "completed", self._default_output()

    async def _walk(self, node_id: str | None, *, stop_at: str | None, top_level: bool) -> None:
        """Run nodes from `node_id` until `stop_at` (a join) or the end of the tree."""
        while node_id is not None and node_id != stop_at:
            if top_level:
                self._maybe_continue_as_new(node_id)
            if self.env.steps >= self.tree.spec.limits.max_steps:
                raise _fail(
                    f"nodes.{node_id}",
                    f"run exceeded limits.max_steps ({self.tree.spec.limits.max_steps})",
                    "StepLimitExceeded",
                )
            self.env.visit(node_id)
            self.recorded.reached(node_id)
            self.current = node_id
            workflow.set_current_details(f"node `{node_id}` · step {self.env.steps}")
            node_id = await self._traced_step(node_id, self.tree.spec.nodes[node_id])
        self.current = None

    async def _traced_step(self, node_id: str, node: Node) -> str | None:
        """`_step`, closing the node's trail step if the handler left it open."""
        try:
            next_id = await self._step(node_id, node)
        except _Finish:
            if self.trail.is_open(node_id):
                self.trail.step_completed(workflow.now(), node_id)
            raise
        except BaseException as exc:
            # Handlers that go on after a failure close the step themselves; a failure
            # that escapes is recorded here (with no step.started if none was recorded).
            message = "cancelled" if is_cancelled_exception(exc) else _cause_message(exc)
            self.trail.step_failed(workflow.now(), node_id, message)
            raise
        if self.trail.is_open(node_id):
            self.trail.step_completed(workflow.now(), node_id, next=next_id)
        return next_id

    async def _step(self, node_id: str, node: Node) -> str | None:
        """Run one node; the id of the next one (None: this branch of the walk is done)."""
        match node:
            case ToolNode():
                return await self._tool(node_id, node)
            case DecisionNode():
                return await self._decision(node_id, node)
            case InputNode():
                return await self._input(node_id, node)
            case ParallelNode():
                return await self._parallel(node_id, node)
            case SubtreeNode():
                return await self._subtree(node_id, node)
            case EndNode():
                self.trail.step_started(workflow.now(), node_id, "end")
                raise _Finish("completed", self._render_output(node_id, node))
            case _:
                assert_never(node)

    def _maybe_continue_as_new(self, node_id: str) -> None:
        info = workflow.info()
        threshold = self.tree.spec.limits.continue_as_new_after
        if (
            info.get_current_history_length() < threshold
            and not info.is_continue_as_new_suggested()
        ):
            return
        if not workflow.all_handlers_finished():
            return  # an update is mid-flight; try again at the next node
        workflow.logger.info("continuing as new at node %s", node_id)
        workflow.continue_as_new(
            RunRequest(
                tree=self.tree,
                tenant_id=self.tenant_id,
                conversation=self.conversation,
                checkpoint=Checkpoint(
                    node=node_id,
                    environment=self.env,
                    generation=self.generation + 1,
                    events_before=self.trail.last_id,
                ),
                rerun=self.recorded.remaining(),
            )
        )

    # ------------------------------------------------------------ scope

    def scope(self, **extra: Any) -> dict[str, Any]:
        env = self.env
        info = workflow.info()
        names: RunScope = {
            "inputs": env.inputs,
            "state": env.state,
            "results": env.results,
            "tools": env.tools,
            "errors": env.errors,
            "passes": env.passes,
            "tasks": env.task_dicts(),
            "run": {
                "workflow_id": info.workflow_id,
                "tenant_id": self.tenant_id,
                "tree": self.tree.spec.name,
                "steps": env.steps,
            },
            "conversation": self._conversation_scope,
        }
        return {**names, **extra}

    def _render(self, value: Any, path: str, **extra: Any) -> Any:
        return self.evaluator.render(value, self.scope(**extra), path)

    def _default_output(self) -> dict[str, Any]:
        return {"result": self.env.last_result}

    def _render_output(self, node_id: str, node: EndNode) -> dict[str, Any]:
        if not node.output:
            return self._default_output()
        rendered = self._render(node.output, f"nodes.{node_id}.output")
        assert isinstance(rendered, dict)
        return rendered

    # ------------------------------------------------------------ tools

    async def _tool(self, node_id: str, node: ToolNode) -> str | None:
        args = self._render(node.args, f"nodes.{node_id}.args")
        if node.agent_args:
            args = {**args, **self._handed_args(node_id, node)}
        tool_name = node.tool.split("@", 1)[0]
        summary = (
            str(self._render(node.summary, f"nodes.{node_id}.summary"))
            if node.summary
            else f"{node_id} · {node.tool}"
        )
        self.trail.step_started(workflow.now(), node_id, "tool", activity=node.tool, args=args)
        try:
            output = await self._call_activity(
                node.tool,
                node_id,
                args,
                node,
                summary=summary[:200],
                definition=self.tree.declarative_tools.get(node.tool),
            )
        except ActivityError as exc:
            if is_cancelled_exception(exc):
                raise  # the run is being cancelled: end as CANCELED, not as a tool failure
            message = _cause_message(exc)
            self.env.errors.setdefault(tool_name, []).append(message)
            self.env.record(
                TaskRecord(node=node_id, kind="tool", tool=node.tool, ok=False, summary=message)
            )
            if node.on_error is not None:
                self.trail.step_failed(workflow.now(), node_id, message, node.on_error)
                return node.on_error
            raise _fail(f"nodes.{node_id}", f"{node.tool} failed: {message}", "ToolFailed") from exc
        self.env.results[node_id] = output
        self.env.tools[tool_name] = output
        self.env.last_result = output
        self.env.record(TaskRecord(node=node_id, kind="tool", tool=node.tool, summary=summary))
        if node.set:
            updates = self._render(node.set, f"nodes.{node_id}.set", result=output)
            self.env.state.update(updates)
        self.trail.step_completed(workflow.now(), node_id, result=output, next=node.next)
        return node.next

    async def _call_activity(
        self,
        activity: str,
        node_id: str,
        args: dict[str, Any],
        node: ToolNode | DecisionNode,
        *,
        summary: str,
        definition: dict[str, Any] | None = None,
    ) -> Any:
        """Run the activity `name@x.y.z` for a tool node or a router/LLM decision
        (a re-run takes the origin's recorded result instead: workflows.rerun)."""
        recorded = self.recorded.take(node_id, args)
        if recorded is not None:
            return recorded.result
        call = ToolCall(
            args=args,
            tenant_id=self.tenant_id,
            node_id=node_id,
            tree_name=self.tree.spec.name,
            tree_version=self.tree.spec.version,
            definition=definition,
        )
        heartbeat = node.heartbeat_timeout if isinstance(node, ToolNode) else None
        try:
            return await execute_pinned(
                activity,
                call,
                result_type=dict,
                start_to_close_timeout=timedelta(
                    seconds=node.timeout or DEFAULT_TOOL_TIMEOUT_SECONDS
                ),
                heartbeat_timeout=timedelta(seconds=heartbeat or DEFAULT_HEARTBEAT_TIMEOUT_SECONDS),
                retry_policy=retry_policy(node.retry),
                summary=summary,
            )
        finally:
            self.evaluator.waited()

    def _handed_args(self, node_id: str, node: ToolNode) -> dict[str, Any]:
        """Arguments the routing decision wrote for this node, limited to the writable ones."""
        handed = self.env.handoff.pop(node_id, {})
        if isinstance(node.agent_args, tuple):
            return {k: v for k, v in handed.items() if k in node.agent_args}
        return handed

    # ------------------------------------------------------------ decisions

    async def _decision(self, node_id: str, node: DecisionNode) -> str | None:
        visits = self.env.passes.get(node_id, 0) + 1
        self.env.passes[node_id] = visits
        if node.strategy == "rules":
            self.trail.step_started(workflow.now(), node_id, "decision", strategy="rules")
        if node.max_passes is not None and visits > node.max_passes:
            return self._limit_reached(node_id, node)
        available = self._available_branches(node_id, node)
        if node.strategy == "rules":
            branch = self._rule_choice(node_id, node, available)
            observe.decision("rules")
            self.env.record(
                TaskRecord(node=node_id, kind="decision", summary=f"rules chose {branch.name}")
            )
            return branch.to
        return await self._activity_decision(node_id, node, available)

    def _available_branches(self, node_id: str, node: DecisionNode) -> list[tuple[int, Branch]]:
        done_tools = {t.tool.split("@", 1)[0] for t in self.env.tasks if t.ok and t.tool}
        done_nodes = set(self.env.results)
        available = []
        for index, branch in enumerate(node.branches):
            if any(r not in done_tools and r not in done_nodes for r in branch.requires):
                continue
            guarded = node.strategy != "rules" and branch.when is not None
            if guarded and not self._rule(
                branch.when or "", f"nodes.{node_id}.branches[{index}].when"
            ):
                continue
            available.append((index, branch))
        return available

    def _rule(self, source: str, path: str) -> bool:
        return self.evaluator.rule(source, self.scope(), path)

    def _rule_choice(
        self, node_id: str, node: DecisionNode, available: list[tuple[int, Branch]]
    ) -> Branch:
        for index, branch in available:
            if branch.when is None or self._rule(
                branch.when, f"nodes.{node_id}.branches[{index}].when"
            ):
                self.trail.decision(
                    workflow.now(),
                    node_id,
                    Decision(
                        branch=branch.name,
                        to=branch.to,
                        strategy="rules",
                        rule=branch.when,
                        index=index,
                    ),
                )
                return branch
        raise _fail(f"nodes.{node_id}", "no branch is available", "NoBranch")

    async def _activity_decision(
        self, node_id: str, node: DecisionNode, available: list[tuple[int, Branch]]
    ) -> str | None:
        if not available:
            raise _fail(f"nodes.{node_id}", "no branch is available", "NoBranch")
        assert node.using is not None
        request = DecisionInput(
            instruction=node.instruction,
            prompt=str(self._render(node.prompt or "", f"nodes.{node_id}.prompt")),
            options=[self._option(b) for _, b in available],
            default=available[-1][1].name,
            tasks_completed=self.env.task_dicts(),
            errors=self.env.errors,
            context=self._decision_context(),
        )
        self.trail.step_started(
            workflow.now(),
            node_id,
            "decision",
            activity=node.using,
            strategy=node.strategy,
            args={"prompt": request.prompt, "options": [o.id for o in request.options]},
        )
        try:
            decided = await self._call_activity(
                node.using,
                node_id,
                request.model_dump(mode="json"),
                node,
                summary=f"{node_id} · {node.strategy} decision",
            )
        except ActivityError as exc:
            if is_cancelled_exception(exc):
                raise
            raise _fail(
                f"nodes.{node_id}", f"decision failed: {_cause_message(exc)}", "DecisionFailed"
            ) from exc
        result = DecisionOutput.model_validate(decided)
        observe.decision(node.strategy)
        self._trace_decision(node_id, node, available, result)
        self.env.results[node_id] = decided
        self.env.record(
            TaskRecord(
                node=node_id,
                kind="decision",
                summary=f"{node.strategy} chose {result.choice}: {result.reasoning}"[:300],
            )
        )
        if result.impossible:
            raise _Finish(
                "impossible", {"reason": result.reasoning, "result": self.env.last_result}
            )
        if result.end:
            if node.on_end is not None:
                return node.on_end
            raise _Finish("ended", {"reason": result.reasoning, "result": self.env.last_result})
        for _, branch in available:
            if branch.name == result.choice:
                target = self.tree.spec.nodes.get(branch.to)
                if result.args and isinstance(target, ToolNode) and target.agent_args:
                    self.env.handoff[branch.to] = dict(result.args)
                return branch.to
        raise _fail(
            f"nodes.{node_id}",
            f"decision chose '{result.choice}', which is not an available branch",
            "InvalidDecision",
        )

    def _trace_decision(
        self,
        node_id: str,
        node: DecisionNode,
        available: list[tuple[int, Branch]],
        result: DecisionOutput,
    ) -> None:
        chosen = next(((i, b) for i, b in available if b.name == result.choice), None)
        self.trail.decision(
            workflow.now(),
            node_id,
            Decision(
                branch=result.choice,
                to=chosen[1].to if chosen else (node.on_end if result.end else None),
                strategy=node.strategy,
                index=chosen[0] if chosen else None,
                scores=dict(result.scores),
                reasoning=result.reasoning[:2000],
                end=result.end,
                impossible=result.impossible,
            ),
        )

    def _decision_context(self) -> dict[str, Any]:
        context = {"inputs": self.env.inputs, "state": self.env.state}
        if self.conversation is not None:
            context["conversation"] = self._conversation_scope
        return context

    def _option(self, branch: Branch) -> DecisionOption:
        """How a branch is offered to a router or agent: its text, tool and argument rights."""
        option = DecisionOption(
            id=branch.name,
            description=branch.description or self._describe_target(branch.to),
            keywords=list(branch.keywords),
            tool=self._tool_of(branch.to),
        )
        target = self.tree.spec.nodes.get(branch.to)
        if not isinstance(target, ToolNode):
            return option
        update: dict[str, Any] = {
            "args": {k: v for k, v in target.args.items() if not is_templated(v)}
        }
        if target.agent_args:
            update["accepts_args"] = True
            if isinstance(target.agent_args, tuple):
                update["writable_args"] = list(target.agent_args)
            templated = sorted(k for k, v in target.args.items() if is_templated(v))
            if templated:
                update["templated_args"] = templated
            definition = self.tree.declarative_tools.get(target.tool)
            if definition is not None:
                update["args_schema"] = definition.get("input_schema")
        return option.model_copy(update=update)

    def _describe_target(self, node_id: str) -> str:
        node = self.tree.spec.nodes.get(node_id)
        return node.description if node is not None else ""

    def _tool_of(self, node_id: str) -> str | None:
        node = self.tree.spec.nodes.get(node_id)
        return node.tool if isinstance(node, ToolNode) else None

    def _limit_reached(self, node_id: str, node: DecisionNode) -> str | None:
        if not self.trail.is_open(node_id):
            self.trail.step_started(workflow.now(), node_id, "decision", strategy=node.strategy)
        self.trail.decision(
            workflow.now(),
            node_id,
            Decision(
                to=node.on_limit,
                strategy=node.strategy,
                reasoning=f"max_passes ({node.max_passes}) reached",
            ),
        )
        self.env.record(
            TaskRecord(
                node=node_id, kind="decision", summary=f"max_passes ({node.max_passes}) reached"
            )
        )
        if node.on_limit is not None:
            return node.on_limit
        raise _Finish(
            "limit_reached",
            {
                "response": (
                    f"Stopped after decision '{node_id}' reached its limit of "
                    f"{node.max_passes} passes."
                ),
                "result": self.env.last_result,
            },
        )

    # ------------------------------------------------------------ user input

    async def _input(self, node_id: str, node: InputNode) -> str | None:
        recorded = self.recorded.answer(node_id)
        if recorded is not None:
            return self._answered(node_id, node, recorded.result)
        prompt = str(self._render(node.prompt, f"nodes.{node_id}.prompt"))
        self.waiting[node_id] = PendingInput(
            node=node_id,
            prompt=prompt,
            choices=list(node.choices) if node.choices else None,
            timeout_seconds=node.timeout,
        )
        self.phase = "waiting_input"
        self.trail.step_started(workflow.now(), node_id, "input")
        self.trail.input_requested(workflow.now(), node_id, prompt, self.waiting[node_id].choices)
        workflow.upsert_search_attributes([RUN_STATUS.value_set("waiting_input")])
        try:
            await workflow.wait_condition(
                lambda: node_id in self.answers,
                timeout=timedelta(seconds=node.timeout) if node.timeout else None,
                timeout_summary=f"{node_id}: waiting for user input",
            )
        except TimeoutError:
            self.env.record(TaskRecord(node=node_id, kind="input", ok=False, summary="timed out"))
            if node.on_timeout is not None:
                self.trail.step_failed(workflow.now(), node_id, "timed out", node.on_timeout)
                return node.on_timeout
            raise _fail(
                f"nodes.{node_id}", f"no user input within {node.timeout}s", "InputTimeout"
            ) from None
        finally:
            self.evaluator.waited()
            del self.waiting[node_id]
            if not self.waiting:
                self.phase = "running"
                workflow.upsert_search_attributes([RUN_STATUS.value_unset()])
        return self._answered(node_id, node, self.answers.pop(node_id))

    def _answered(self, node_id: str, node: InputNode, answer: Any) -> str | None:
        self.env.state[node.save_as] = answer
        self.env.results[node_id] = {"answer": answer}
        self.env.record(TaskRecord(node=node_id, kind="input", summary="answered"))
        self.trail.input_answered(workflow.now(), node_id, answer)
        return node.next

    def _target_for(self, answer: UserInput) -> str:
        if answer.node is not None:
            if answer.node not in self.waiting:
                raise ValueError(f"node '{answer.node}' is not waiting for input")
            return answer.node
        if len(self.waiting) != 1:
            waiting = ", ".join(sorted(self.waiting)) or "none"
            raise ValueError(f"say which node the answer is for (waiting: {waiting})")
        return next(iter(self.waiting))

    def accept_input(self, answer: UserInput) -> InputAccepted:
        """Store a validated answer for the node waiting for it."""
        node = self._target_for(answer)
        self.answers[node] = answer.value
        return InputAccepted(node=node)

    def validate_input(self, answer: UserInput) -> None:
        """Raise ValueError unless an input node waits for this answer."""
        node = self._target_for(answer)
        choices = self.waiting[node].choices
        if choices is not None and answer.value not in choices:
            raise ValueError(f"answer must be one of {choices}")
        if node in self.answers:
            raise ValueError(f"node '{node}' already has an answer")

    def signal_input(self, answer: UserInput) -> None:
        """Fire-and-forget delivery: invalid answers are logged and dropped."""
        try:
            self.validate_input(answer)
        except ValueError as exc:
            workflow.logger.warning("user input dropped: %s", exc)
            return
        self.answers[self._target_for(answer)] = answer.value

    # ------------------------------------------------------------ parallel and subtrees

    async def _parallel(self, node_id: str, node: ParallelNode) -> str:
        self.trail.step_started(
            workflow.now(), node_id, "parallel", branches=list(node.branches), join=node.join
        )
        branches = [
            asyncio.create_task(self._walk(entry, stop_at=node.join, top_level=False))
            for entry in node.branches
        ]
        if node.fail_fast:
            try:
                await asyncio.gather(*branches)
            except BaseException:
                for task in branches:
                    task.cancel()
                await asyncio.gather(*branches, return_exceptions=True)
                raise
        else:
            outcomes = await asyncio.gather(*branches, return_exceptions=True)
            for entry, outcome in zip(node.branches, outcomes, strict=True):
                if isinstance(outcome, _Finish):
                    raise outcome
                if isinstance(outcome, BaseException):
                    self.env.errors.setdefault(node_id, []).append(f"{entry}: {outcome}")
        self.env.record(
            TaskRecord(node=node_id, kind="parallel", summary=f"{len(branches)} branches joined")
        )
        return node.join

    async def _subtree(self, node_id: str, node: SubtreeNode) -> str | None:
        assert node.tree is not None
        child = self.tree.child(node.tree)
        inputs = self._render(node.inputs, f"nodes.{node_id}.inputs")
        visit = self.env.passes.get(node_id, 0) + 1
        self.env.passes[node_id] = visit
        recorded = self.recorded.take(node_id, inputs)
        if recorded is not None:
            return self._subtree_done(node_id, node, RunResult.model_validate(recorded.result))
        info = workflow.info()
        child_id = f"{info.workflow_id}/{node_id}/{self.generation}.{visit}"
        self.trail.step_started(
            workflow.now(),
            node_id,
            "subtree",
            tree=child.spec.name,
            workflow_id=child_id,
            args=inputs,
        )
        try:
            result: RunResult = await workflow.execute_child_workflow(
                WORKFLOW_NAME,
                RunRequest(tree=child, inputs=inputs, tenant_id=self.tenant_id),
                id=child_id,
                search_attributes=for_run(
                    self.tenant_id, child.spec.name, child.spec.version, child.hash
                ),
                static_summary=f"subtree {child.spec.name} of {info.workflow_id}",
                result_type=RunResult,
            )
        except ChildWorkflowError as exc:
            if is_cancelled_exception(exc):
                raise
            message = _cause_message(exc)
            self.env.errors.setdefault(node_id, []).append(message)
            self.env.record(TaskRecord(node=node_id, kind="subtree", ok=False, summary=message))
            if node.on_error is not None:
                self.trail.step_failed(workflow.now(), node_id, message, node.on_error)
                return node.on_error
            raise _fail(f"nodes.{node_id}", f"subtree failed: {message}", "SubtreeFailed") from exc
        finally:
            self.evaluator.waited()
        return self._subtree_done(node_id, node, result)

    def _subtree_done(self, node_id: str, node: SubtreeNode, result: RunResult) -> str | None:
        output = result.model_dump(mode="json")
        self.env.results[node_id] = output
        self.env.last_result = output["output"]
        self.env.record(
            TaskRecord(node=node_id, kind="subtree", summary=f"{result.tree}: {result.outcome}")
        )
        self.trail.step_completed(
            workflow.now(), node_id, result=output["output"], outcome=result.outcome, next=node.next
        )
        return node.next

    # ------------------------------------------------------------ queries

    def progress(self) -> Progress:
        spec = self.tree.spec
        return Progress(
            phase=self.phase,
            current_node=self.current,
            path=self.env.path,
            steps=self.env.steps,
            passes=self.env.passes,
            waiting_for=list(self.waiting.values()),
            errors=self.env.errors,
            tasks=self.env.tasks,
            tree=spec.name,
            tree_version=spec.version,
            tree_hash=self.tree.hash,
            generation=self.generation,
            output=self.output,
        )


def _cause_message(error: BaseException) -> str:
    """The innermost failure message (an activity's ApplicationError, usually)."""
    cause: BaseException | None = error
    message = str(error)
    while cause is not None:
        if isinstance(cause, ApplicationError):
            kind = f"{cause.type}: " if cause.type else ""
            return f"{kind}{cause.message}"
        message = str(cause) or message
        cause = cause.__cause__
    return message
