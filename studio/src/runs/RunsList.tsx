// The tenant's runs, newest first, filtered by tree, status and start time (kept in the
// URL query) and paged with the API's page tokens.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { ProblemMessage } from "../views/Problem";
import { TableHead } from "../views/TableHead";
import {
  changeFilters,
  filtersFromQuery,
  filtersToQuery,
  fromLocalInput,
  listQuery,
  RUN_STATUSES,
  toLocalInput,
  type RunFilters,
  type RunStatusFilter,
} from "./filters";

export const RUNS_PAGE_SIZE = 20;

function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

export function RunsList({ pageSize = RUNS_PAGE_SIZE }: { pageSize?: number }) {
  const { tenant } = useParams() as { tenant: string };
  const [search, setSearch] = useSearchParams();
  const filters = filtersFromQuery(search);
  // Tokens of the pages before this one, so "Previous page" can go back.
  const [earlier, setEarlier] = useState<(string | undefined)[]>([]);
  const [treeText, setTreeText] = useState(filters.tree ?? "");
  const apply = (next: RunFilters, keepEarlier = false) => {
    if (!keepEarlier) setEarlier([]);
    setSearch(filtersToQuery(next));
  };
  const runs = useQuery({
    queryKey: ["runs", tenant, filtersToQuery(filters).toString(), pageSize],
    refetchInterval: 5000, // visibility is eventually consistent, and runs move on
    queryFn: () =>
      unwrap(api.GET("/v1/tenants/{tenant_id}/runs", { params: { path: { tenant_id: tenant }, query: listQuery(filters, pageSize) } })),
    placeholderData: keepPreviousData,
  });
  const submitTree = (event: FormEvent) => {
    event.preventDefault();
    apply(changeFilters(filters, { tree: treeText.trim() || undefined }));
  };
  const next = runs.data?.next_page_token;
  return (
    <section className="runs-list">
      <h1>Runs</h1>
      <div className="filters row" role="search" aria-label="Filter runs">
        <form onSubmit={submitTree} className="row">
          <label htmlFor="runs-tree">Tree</label>
          <input id="runs-tree" value={treeText} onChange={(e) => setTreeText(e.target.value)} placeholder="any tree" />
          <button type="submit">Filter</button>
        </form>
        <label htmlFor="runs-status">Status</label>
        <select
          id="runs-status"
          value={filters.status ?? ""}
          onChange={(e) => apply(changeFilters(filters, { status: (e.target.value || undefined) as RunStatusFilter | undefined }))}
        >
          <option value="">any status</option>
          {RUN_STATUSES.map((status) => (
            <option key={status} value={status}>
              {status}
            </option>
          ))}
        </select>
        {(["after", "before"] as const).map((bound) => (
          <span key={bound} className="row">
            <label htmlFor={`runs-${bound}`}>Started {bound}</label>
            <input
              id={`runs-${bound}`}
              type="datetime-local"
              value={toLocalInput(filters[bound])}
              onChange={(e) => apply(changeFilters(filters, { [bound]: fromLocalInput(e.target.value) }))}
            />
          </span>
        ))}
        {filtersToQuery({ ...filters, page: undefined }).size > 0 && (
          <button
            type="button"
            onClick={() => {
              setTreeText("");
              apply({});
            }}
          >
            Clear filters
          </button>
        )}
      </div>
      <ProblemMessage error={runs.error} />
      {runs.data && runs.data.runs.length === 0 && <p className="hint">No runs match these filters.</p>}
      {runs.data && runs.data.runs.length > 0 && (
        <table data-testid="runs-table">
          <caption className="sr-only">Runs, newest first</caption>
          <TableHead columns={["Run", "Tree", "Status", "Started", "Closed", "Re-run of"]} />
          <tbody>
            {runs.data.runs.map((run) => (
              <tr key={run.id} data-testid="run-row">
                <td>
                  <Link to={`/t/${tenant}/runs/${encodeURIComponent(run.id)}`}>{run.id}</Link>
                </td>
                <td>
                  {run.tree ?? "—"}
                  {run.tree_version ? ` v${run.tree_version}` : ""}
                </td>
                <td>
                  <span className={`badge status-${run.status}`}>{run.status}</span>
                </td>
                <td>{when(run.started_at)}</td>
                <td>{when(run.closed_at)}</td>
                <td>{run.rerun_of ? <Link to={`/t/${tenant}/runs/${encodeURIComponent(run.rerun_of)}`}>{run.rerun_of}</Link> : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav className="row pager" aria-label="Pages">
        <button
          type="button"
          disabled={!filters.page}
          onClick={() => {
            const previous = earlier[earlier.length - 1]; // none after a reload: the first page
            setEarlier(earlier.slice(0, -1));
            apply(changeFilters(filters, { page: previous }), true);
          }}
        >
          Previous page
        </button>
        <button
          type="button"
          disabled={!next}
          onClick={() => {
            setEarlier([...earlier, filters.page]);
            apply(changeFilters(filters, { page: next ?? undefined }), true);
          }}
        >
          Next page
        </button>
      </nav>
    </section>
  );
}
