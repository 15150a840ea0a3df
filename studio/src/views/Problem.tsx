// An API problem shown plainly: its detail and every field error.
import { ApiProblem } from "../api/client";

export function ProblemMessage({ error }: { error: unknown }) {
  if (!error) return null;
  if (error instanceof ApiProblem) {
    return (
      <div role="alert" className="problem">
        <strong>{error.title}</strong> {error.detail}
        {error.errors.length > 0 && (
          <ul>
            {error.errors.map((e) => (
              <li key={e.field + e.message}>
                <code>{e.field}</code>: {e.message}
              </li>
            ))}
          </ul>
        )}
      </div>
    );
  }
  return (
    <div role="alert" className="problem">
      {error instanceof Error ? error.message : String(error)}
    </div>
  );
}

/** What a query has to say while it has no data: its problem, or that it is loading. */
export function QueryStatus({ query }: { query: { error: unknown; isLoading: boolean } }) {
  return (
    <>
      <ProblemMessage error={query.error} />
      {query.isLoading && <p>Loading…</p>}
    </>
  );
}
