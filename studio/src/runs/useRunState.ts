// The live state of one run, behind one hook: polling `GET /runs/{key}` today.
//
// When the step event stream (`GET .../runs/{key}/events`, SSE) lands, this hook can
// subscribe to it instead and keep returning the same shape.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../api/client";
import { isClosed, nodeStatesOf, type NodeState } from "../tree/runState";

export const RUN_POLL_MS = 500;

export interface RunState {
  run: Schemas["RunView"] | undefined;
  states: Map<string, NodeState>;
  error: Error | null;
}

export function useRunState(tenantId: string, key: string): RunState {
  const query = useQuery({
    queryKey: ["run", tenantId, key],
    queryFn: () =>
      unwrap(api.GET("/v1/tenants/{tenant_id}/runs/{key}", { params: { path: { tenant_id: tenantId, key } } })),
    refetchInterval: (q) => (q.state.data && isClosed(q.state.data.status) ? false : RUN_POLL_MS),
  });
  const run = query.data;
  return { run, states: run ? nodeStatesOf(run) : new Map(), error: query.error };
}
