// Re-run a closed run from a node: optional input overrides, the pinned or the published
// version; lands on the new run.
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { ProblemMessage } from "../views/Problem";
import { parseOverrides } from "./steps";

export function RerunForm({ tenant, run, fromNode }: { tenant: string; run: Schemas["RunView"]; fromNode: string }) {
  const navigate = useNavigate();
  const [overrides, setOverrides] = useState("");
  const [version, setVersion] = useState<"pinned" | "published">("pinned");
  const [invalid, setInvalid] = useState<string | null>(null);
  const rerun = useMutation({
    mutationFn: (inputs: Record<string, unknown>) =>
      unwrap(
        api.POST("/v1/tenants/{tenant_id}/runs/{key}/rerun", {
          params: { path: { tenant_id: tenant, key: run.id }, header: { "Idempotency-Key": `studio-rerun-${crypto.randomUUID()}` } },
          body: { from_node: fromNode, inputs, version },
        }),
      ),
    onSuccess: (created) => navigate(`/t/${tenant}/runs/${encodeURIComponent(created.id)}`),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const parsed = parseOverrides(overrides);
    if ("error" in parsed) {
      setInvalid(parsed.error);
      return;
    }
    setInvalid(null);
    rerun.mutate(parsed.inputs);
  };
  return (
    <form onSubmit={submit} className="rerun" aria-labelledby="rerun-title">
      <h3 id="rerun-title">Re-run from {fromNode}</h3>
      <p className="hint">Steps before {fromNode} reuse this run's results; their tools are not called again.</p>
      <div className="field">
        <label htmlFor="rerun-inputs">Input overrides (JSON object, optional)</label>
        <textarea
          id="rerun-inputs"
          rows={3}
          value={overrides}
          onChange={(e) => setOverrides(e.target.value)}
          aria-invalid={invalid !== null}
          aria-describedby={invalid ? "rerun-inputs-error" : undefined}
        />
        {invalid && (
          <small id="rerun-inputs-error" role="alert" className="problem">
            {invalid}
          </small>
        )}
      </div>
      <div className="field">
        <label htmlFor="rerun-version">Tree version</label>
        <select id="rerun-version" value={version} onChange={(e) => setVersion(e.target.value as "pinned" | "published")}>
          <option value="pinned">This run's version (v{run.tree.version})</option>
          <option value="published">The published version</option>
        </select>
      </div>
      <button type="submit" disabled={rerun.isPending}>
        Re-run from {fromNode}
      </button>
      <ProblemMessage error={rerun.error} />
    </form>
  );
}
