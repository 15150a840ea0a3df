// The tenant's schedules: create one from a tree (cron or interval), pause, resume, trigger
// and delete. Members who may not write schedules read the list.
import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, unwrap, type Schemas } from "../api/client";
import { useCanEdit } from "../session";
import { ProblemMessage } from "../views/Problem";
import { scheduleTiming, type TimingKind } from "./schedule";
import { TableHead } from "../views/TableHead";
import { useTenantList, type Action } from "./useAction";

function NewSchedule({ tenant, action }: { tenant: string; action: Action }) {
  const path = { tenant_id: tenant };
  const trees = useQuery({
    queryKey: ["trees", tenant],
    queryFn: () => unwrap(api.GET("/v1/tenants/{tenant_id}/trees", { params: { path } })),
  });
  const [name, setName] = useState("");
  const [tree, setTree] = useState("");
  const [kind, setKind] = useState<TimingKind>("cron");
  const [when, setWhen] = useState("0 6 * * *");
  async function create(event: FormEvent) {
    event.preventDefault();
    const created = await action.run(() =>
      unwrap(
        api.POST("/v1/tenants/{tenant_id}/schedules", {
          params: { path },
          body: { name: name.trim(), tree, ...scheduleTiming(kind, when) } as Schemas["ScheduleIn"],
        }),
      ),
    );
    if (created) setName("");
  }
  return (
    <form onSubmit={create} className="inline-form" aria-label="New schedule">
      <label htmlFor="schedule-name">Schedule name</label>
      <input id="schedule-name" value={name} onChange={(e) => setName(e.target.value)} required />
      <label htmlFor="schedule-tree">Tree</label>
      <select id="schedule-tree" value={tree} onChange={(e) => setTree(e.target.value)} required>
        <option value="">Choose a tree</option>
        {(trees.data?.trees ?? []).map((t) => (
          <option key={t.name}>{t.name}</option>
        ))}
      </select>
      <label htmlFor="schedule-kind">Every</label>
      <select id="schedule-kind" value={kind} onChange={(e) => setKind(e.target.value as TimingKind)}>
        <option value="cron">cron expression</option>
        <option value="interval">interval in seconds</option>
      </select>
      <label htmlFor="schedule-when">{kind === "cron" ? "Cron" : "Seconds"}</label>
      <input id="schedule-when" value={when} onChange={(e) => setWhen(e.target.value)} required />
      <button type="submit" disabled={action.busy || name.trim() === "" || tree === ""}>
        Create schedule
      </button>
    </form>
  );
}

function ScheduleRow({ tenant, summary, action, canWrite }: { tenant: string; summary: Schemas["ScheduleSummary"]; action: Action; canWrite: boolean }) {
  const path = { tenant_id: tenant, name: summary.name };
  const detail = useQuery({
    queryKey: ["schedules", tenant, summary.name],
    queryFn: () => unwrap(api.GET("/v1/tenants/{tenant_id}/schedules/{name}", { params: { path } })),
  });
  const paused = detail.data?.paused;
  const next = detail.data?.next_run_times?.[0];
  const state = paused === undefined ? "…" : paused ? "paused" : "active";
  const run = (call: () => Promise<unknown>) => void action.run(call);
  return (
    <tr>
      <td>{summary.name}</td>
      <td>
        {summary.tree.name} v{summary.tree.version} ({summary.tree.version_policy})
      </td>
      <td>
        <code>{summary.spec.cron ? String(summary.spec.cron) : `every ${String(summary.spec.interval_seconds)} s`}</code>
      </td>
      <td>{state}</td>
      <td>{next ? new Date(next).toLocaleString() : "—"}</td>
      {canWrite && (
        <td>
<div className="operate-actions">
          {paused ? (
            <button type="button" disabled={action.busy} aria-label={`Resume ${summary.name}`} onClick={() => run(() => unwrap(api.POST("/v1/tenants/{tenant_id}/schedules/{name}/resume", { params: { path } })))}>
              Resume
            </button>
          ) : (
            <button type="button" disabled={action.busy || paused === undefined} aria-label={`Pause ${summary.name}`} onClick={() => run(() => unwrap(api.POST("/v1/tenants/{tenant_id}/schedules/{name}/pause", { params: { path } })))}>
              Pause
            </button>
          )}
          <button type="button" disabled={action.busy} aria-label={`Trigger ${summary.name} now`} onClick={() => run(() => unwrap(api.POST("/v1/tenants/{tenant_id}/schedules/{name}/trigger", { params: { path } })))}>
            Trigger
          </button>
          <button type="button" disabled={action.busy} aria-label={`Delete ${summary.name}`} onClick={() => run(() => unwrap(api.DELETE("/v1/tenants/{tenant_id}/schedules/{name}", { params: { path } })))}>
            Delete
          </button>
        </div>
</td>
      )}
    </tr>
  );
}

export function Schedules() {
  const { tenant, list: schedules, action } = useTenantList("schedules", (path) =>
    unwrap(api.GET("/v1/tenants/{tenant_id}/schedules", { params: { path } })),
  );
  const canWrite = useCanEdit(tenant); // users write schedules too (schedules:write)
  const listed = schedules.data?.schedules ?? [];
  return (
    <section aria-labelledby="schedules-heading">
      <h2 id="schedules-heading">Schedules</h2>
      {canWrite && <NewSchedule tenant={tenant} action={action} />}
      <ProblemMessage error={schedules.error ?? action.error} />
      {schedules.data && listed.length === 0 && <p>No schedules yet.</p>}
      {listed.length > 0 && (
        <table className="table">
          <TableHead columns={["Name", "Tree", "When", "State", "Next run"]} actions={canWrite} />
          <tbody>
            {listed.map((s) => (
              <ScheduleRow key={s.name} tenant={tenant} summary={s} action={action} canWrite={canWrite} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
