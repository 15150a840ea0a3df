// One run, live: the tree with each node's state and the path taken (from the event
// stream), waiting inputs to answer, a clicked node's step records, cancel, re-run links,
// the output with its charts, and the run in the Temporal UI.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useMemo, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { ChartsIn } from "../charts/ChartView";
import { TreeCanvas } from "../editor/TreeCanvas";
import { StepPanel } from "../runs/StepPanel";
import { useRunState } from "../runs/useRunState";
import { useCanEdit } from "../session";
import { treeToGraph } from "../tree/graph";
import { isClosed, withSkipped } from "../tree/runState";
import { parseTree } from "../tree/yamlText";
import { ProblemMessage } from "./Problem";

function AnswerForm({ tenant, runKey, pending }: { tenant: string; runKey: string; pending: Schemas["Pending"] }) {
  const [value, setValue] = useState(pending.choices?.[0] ?? "");
  const answer = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/v1/tenants/{tenant_id}/runs/{key}/input", {
          params: { path: { tenant_id: tenant, key: runKey } },
          body: { value, node: pending.node },
        }),
      ),
  });
  const id = `answer-${pending.node}`;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    answer.mutate();
  };
  return (
    <form onSubmit={submit} className="card">
      <label htmlFor={id}>{pending.prompt}</label>
      {pending.choices ? (
        <select id={id} value={value} onChange={(e) => setValue(e.target.value)}>
          {pending.choices.map((choice) => (
            <option key={choice} value={choice}>{choice}</option>
          ))}
        </select>
      ) : (
        <input id={id} value={value} onChange={(e) => setValue(e.target.value)} required />
      )}
      <button type="submit" disabled={answer.isPending || answer.isSuccess}>
        Answer
      </button>
      <ProblemMessage error={answer.error} />
    </form>
  );
}

function CancelButton({ tenant, runKey }: { tenant: string; runKey: string }) {
  const cancel = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/v1/tenants/{tenant_id}/runs/{key}/cancel", { params: { path: { tenant_id: tenant, key: runKey } } })),
  });
  return (
    <>
      <button
        type="button"
        className="danger"
        disabled={cancel.isPending || cancel.isSuccess}
        onClick={() => window.confirm(`Cancel run ${runKey}?`) && cancel.mutate()}
      >
        {cancel.isSuccess ? "Cancelling…" : "Cancel run"}
      </button>
      <ProblemMessage error={cancel.error} />
    </>
  );
}

function runLink(tenant: string, key: string): string {
  return `/t/${tenant}/runs/${encodeURIComponent(key)}`;
}

function Reruns({ tenant, run }: { tenant: string; run: Schemas["RunView"] }) {
  const reruns = run.reruns ?? [];
  if (!run.rerun_of && reruns.length === 0) return null;
  return (
    <nav aria-label="Re-runs" className="reruns">
      {run.rerun_of && (
        <p data-testid="rerun-of">
          Re-run of <Link to={runLink(tenant, run.rerun_of.id)}>{run.rerun_of.id}</Link> from node <code>{run.rerun_of.from_node}</code>
        </p>
      )}
      {reruns.length > 0 && (
        <>
          <span>Re-runs:</span>
          <ul>
            {reruns.map((ref) => (
              <li key={ref.id}>
                <Link to={runLink(tenant, ref.id)}>{ref.id}</Link> ({ref.status})
              </li>
            ))}
          </ul>
        </>
      )}
    </nav>
  );
}

export function RunView() {
  const { tenant, key } = useParams() as { tenant: string; key: string };
  const canEdit = useCanEdit(tenant);
  const { run, states, path, status, transport, error } = useRunState(tenant, key);
  const [selected, setSelected] = useState<string | null>(null);
  const ref = run?.tree;
  const version = useQuery({
    queryKey: ["version", tenant, ref?.name, ref?.version],
    enabled: ref !== undefined,
    queryFn: () =>
      unwrap(
        api.GET("/v1/tenants/{tenant_id}/trees/{name}/versions/{version}", {
          params: { path: { tenant_id: tenant, name: ref!.name, version: ref!.version } },
        }),
      ),
  });
  const graph = useMemo(() => {
    const tree = version.data?.source ? parseTree(version.data.source).tree : null;
    return tree ? treeToGraph(tree) : null;
  }, [version.data]);
  const closed = status !== undefined && isClosed(status);
  const shown = useMemo(() => withSkipped(states, graph?.nodes.map((n) => n.id) ?? [], closed), [states, graph, closed]);
  return (
    <section className="run">
      <div className="row">
        <h1>Run {key}</h1>
        {status && (
          <span className="badge" data-testid="run-status">
            {status}
          </span>
        )}
        <span className="hint" data-testid="run-transport" title="How this view follows the run">
          {transport === "stream" ? "live" : transport === "polling" ? "polling" : "connecting…"}
        </span>
        {run && !closed && canEdit && <CancelButton key={key} tenant={tenant} runKey={key} />}
        {run && (
          <Link to={`/t/${tenant}/runs?tree=${encodeURIComponent(run.tree.name)}`}>Runs of {run.tree.name}</Link>
        )}
        {run?.links.temporal_ui && (
          <a href={run.links.temporal_ui} target="_blank" rel="noreferrer">
            Open in Temporal UI
          </a>
        )}
      </div>
      <ProblemMessage error={error ?? version.error} />
      {run && (
        <p>
          Tree <Link to={`/t/${tenant}/trees/${encodeURIComponent(run.tree.name)}`}>{run.tree.name}</Link> v{run.tree.version} · path:{" "}
          <span data-testid="run-path">
            {path.length === 0
              ? "—"
              : path.map((node, index) => (
                  <span key={index}>
                    {index > 0 && " → "}
                    {/* The keyboard way to a node's step record (the canvas is for pointers). */}
                    <button type="button" className="link" aria-label={`Step record of ${node}`} onClick={() => setSelected(node)}>
                      {node}
                    </button>
                  </span>
                ))}
          </span>
        </p>
      )}
      {run && <Reruns tenant={tenant} run={run} />}
      {run && canEdit && !closed && (run.waiting_for ?? []).map((pending) => <AnswerForm key={pending.node} tenant={tenant} runKey={key} pending={pending} />)}
      <div className={selected ? "run-body with-panel" : "run-body"}>
        {graph && <TreeCanvas graph={graph} states={shown} selected={selected} onSelect={setSelected} />}
        {selected && run && (
          <StepPanel
            tenant={tenant}
            runKey={key}
            node={selected}
            revision={`${shown.get(selected) ?? ""}:${status ?? ""}`}
            run={run}
            closed={closed}
            canRerun={canEdit}
            onClose={() => setSelected(null)}
          />
        )}
      </div>
      {graph && !selected && <p className="hint">Click a node to see its step record{closed && canEdit ? " or re-run from it" : ""}.</p>}
      {run?.output && (
        <section aria-labelledby="output-title">
          <h2 id="output-title">Output</h2>
          <ChartsIn value={run.output} />
          <pre data-testid="run-output" tabIndex={0} aria-label="Run output">{JSON.stringify(run.output, null, 2)}</pre>
        </section>
      )}
      {run?.failure && (
        <div role="alert" className="problem" data-testid="run-failure">
          <strong>{run.status === "cancelled" ? "Cancelled" : "Failed"}</strong> {run.failure.message}
          {run.failure.type ? ` (${run.failure.type})` : ""}
        </div>
      )}
    </section>
  );
}
