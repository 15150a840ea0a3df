// One run: the tree with each node's state, the path, waiting inputs to answer, the output.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useMemo, useState, type FormEvent } from "react";
import { useParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { TreeCanvas } from "../editor/TreeCanvas";
import { useRunState } from "../runs/useRunState";
import { useCanEdit } from "../session";
import { treeToGraph } from "../tree/graph";
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

export function RunView() {
  const { tenant, key } = useParams() as { tenant: string; key: string };
  const canAnswer = useCanEdit(tenant);
  const { run, states, error } = useRunState(tenant, key);
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
  return (
    <section className="run">
      <div className="row">
        <h1>Run {key}</h1>
        {run && (
          <span className="badge" data-testid="run-status">
            {run.status}
          </span>
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
          Tree <strong>{run.tree.name}</strong> v{run.tree.version} · path: {(run.path ?? []).join(" → ") || "—"}
        </p>
      )}
      {run && canAnswer && (run.waiting_for ?? []).map((pending) => <AnswerForm key={pending.node} tenant={tenant} runKey={key} pending={pending} />)}
      {graph && <TreeCanvas graph={graph} states={states} />}
      {run?.output && (
        <section aria-labelledby="output-title">
          <h2 id="output-title">Output</h2>
          <pre data-testid="run-output" tabIndex={0} aria-label="Run output">{JSON.stringify(run.output, null, 2)}</pre>
        </section>
      )}
      {run?.failure && <ProblemMessage error={new Error(JSON.stringify(run.failure))} />}
    </section>
  );
}
