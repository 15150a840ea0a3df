// The side panel of a clicked node: its step records (arguments, result, error, attempts,
// duration, the decision taken), any chart in its result, and re-run from it.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../api/client";
import { ChartsIn } from "../charts/ChartView";
import { ProblemMessage } from "../views/Problem";
import { RerunForm } from "./RerunForm";
import { formatDuration, stepsOf } from "./steps";

type StepRecord = Schemas["StepRecord"];

function ValueBlock({ label, value }: { label: string; value: Schemas["Value"] | null | undefined }) {
  if (!value) return null;
  return (
    <div>
      <h4>{label}</h4>
      <pre tabIndex={0} aria-label={label}>
        {typeof value.value === "string" && value.truncated ? value.value + "…" : JSON.stringify(value.value, null, 2)}
      </pre>
      {value.truncated && <small>Truncated; the full value is {value.size} bytes.</small>}
      {!value.truncated && <ChartsIn value={value.value} />}
    </div>
  );
}

function StepCard({ step }: { step: StepRecord }) {
  return (
    <article className="step card" data-testid="step-record" aria-label={`Step ${step.id}`}>
      <dl className="facts">
        <dt>Outcome</dt>
        <dd data-testid="step-outcome">{step.outcome}</dd>
        {step.kind && (
          <>
            <dt>Kind</dt>
            <dd>{step.kind}</dd>
          </>
        )}
        {step.activity && (
          <>
            <dt>Ran</dt>
            <dd>
              <code>{step.activity}</code>
            </dd>
          </>
        )}
        <dt>Attempts</dt>
        <dd data-testid="step-attempts">{step.attempts ?? "—"}</dd>
        <dt>Duration</dt>
        <dd data-testid="step-duration">{formatDuration(step.duration_ms)}</dd>
        <dt>Started</dt>
        <dd>{new Date(step.started_at).toLocaleString()}</dd>
        {step.decision?.to && (
          <>
            <dt>Went to</dt>
            <dd>
              {step.decision.to}
              {step.decision.rule ? ` (when ${step.decision.rule})` : ""}
              {step.decision.reasoning ? ` — ${step.decision.reasoning}` : ""}
            </dd>
          </>
        )}
        {step.handled_by && (
          <>
            <dt>Handled by</dt>
            <dd>{step.handled_by}</dd>
          </>
        )}
      </dl>
      <ValueBlock label="Arguments" value={step.args} />
      <ValueBlock label="Result" value={step.result} />
      {step.error && (
        <div>
          <h4>Error</h4>
          <pre className="error-text" data-testid="step-error" tabIndex={0} aria-label="Error">
            {step.error}
          </pre>
        </div>
      )}
    </article>
  );
}

export interface StepPanelProps {
  tenant: string;
  runKey: string;
  node: string;
  /** Changes whenever the run moves on, so the records are read again. */
  revision: string;
  run: Schemas["RunView"];
  closed: boolean;
  canRerun: boolean;
  onClose: () => void;
}

export function StepPanel({ tenant, runKey, node, revision, run, closed, canRerun, onClose }: StepPanelProps) {
  const steps = useQuery({
    queryKey: ["steps", tenant, runKey, revision],
    queryFn: () =>
      unwrap(api.GET("/v1/tenants/{tenant_id}/runs/{key}/steps", { params: { path: { tenant_id: tenant, key: runKey } } })),
    placeholderData: (previous) => previous,
  });
  const records = stepsOf(steps.data?.steps ?? [], node);
  return (
    <aside className="step-panel card" aria-labelledby="step-panel-title" data-testid="step-panel">
      <div className="row">
        <h2 id="step-panel-title">Node {node}</h2>
        <button type="button" onClick={onClose} aria-label="Close the step panel">
          Close
        </button>
      </div>
      <ProblemMessage error={steps.error} />
      {steps.isPending && <p>Loading steps…</p>}
      {steps.data && records.length === 0 && <p className="hint">The run has not reached this node.</p>}
      {records.map((step) => (
        <StepCard key={step.id} step={step} />
      ))}
      {closed && canRerun && <RerunForm tenant={tenant} run={run} fromNode={node} />}
    </aside>
  );
}
