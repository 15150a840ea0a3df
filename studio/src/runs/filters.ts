// The runs list's filters, kept in the page's URL query so a filtered list can be linked,
// reloaded and navigated back to; and the `GET /runs` query they become.

export const RUN_STATUSES = ["running", "waiting_input", "completed", "failed", "cancelled", "terminated", "timed_out"] as const;
export type RunStatusFilter = (typeof RUN_STATUSES)[number];

const TREE_NAME = /^[a-z0-9][a-z0-9_.-]{0,99}$/;

export interface RunFilters {
  tree?: string;
  status?: RunStatusFilter;
  /** ISO 8601 instants (UTC), inclusive lower and exclusive upper bound of the start time. */
  after?: string;
  before?: string;
  /** The API's opaque page token of the page shown (absent: the first page). */
  page?: string;
  /** Runs per page (1–200, the API's bounds; absent: the list's default). */
  limit?: number;
}

function isStatus(value: string): value is RunStatusFilter {
  return (RUN_STATUSES as readonly string[]).includes(value);
}

function instant(value: string | null): string | undefined {
  if (!value) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}

/** The filters a URL query holds; values the API would refuse are dropped. */
export function filtersFromQuery(query: URLSearchParams): RunFilters {
  const filters: RunFilters = {};
  const tree = query.get("tree");
  if (tree && TREE_NAME.test(tree)) filters.tree = tree;
  const status = query.get("status");
  if (status && isStatus(status)) filters.status = status;
  const after = instant(query.get("after"));
  if (after) filters.after = after;
  const before = instant(query.get("before"));
  if (before) filters.before = before;
  const page = query.get("page");
  if (page) filters.page = page;
  const limit = Number(query.get("limit"));
  if (Number.isInteger(limit) && limit >= 1 && limit <= 200) filters.limit = limit;
  return filters;
}

/** The URL query of `filters`, in a stable order, without empty values. */
export function filtersToQuery(filters: RunFilters): URLSearchParams {
  const query = new URLSearchParams();
  for (const field of ["tree", "status", "after", "before", "limit", "page"] as const) {
    const value = filters[field];
    if (value) query.set(field, String(value));
  }
  return query;
}

/** `filters` with `changes` applied; any filter change goes back to the first page. */
export function changeFilters(filters: RunFilters, changes: Partial<RunFilters>): RunFilters {
  const next: RunFilters = { ...filters, ...changes };
  if (!("page" in changes)) delete next.page;
  for (const field of Object.keys(next) as (keyof RunFilters)[]) if (!next[field]) delete next[field];
  return next;
}

export interface RunListQuery {
  tree?: string;
  status?: RunStatusFilter;
  started_after?: string;
  started_before?: string;
  page_token?: string;
  limit: number;
}

/** The `GET /v1/tenants/{t}/runs` query for `filters` (`limit` unless they set one). */
export function listQuery(filters: RunFilters, limit: number): RunListQuery {
  const query: RunListQuery = { limit: filters.limit ?? limit };
  if (filters.tree) query.tree = filters.tree;
  if (filters.status) query.status = filters.status;
  if (filters.after) query.started_after = filters.after;
  if (filters.before) query.started_before = filters.before;
  if (filters.page) query.page_token = filters.page;
  return query;
}

/** An ISO instant as a `datetime-local` input's value, in the browser's time zone. */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A `datetime-local` value (the browser's time zone) as an ISO instant; "" stays unset. */
export function fromLocalInput(value: string): string | undefined {
  return value ? instant(value) : undefined;
}
