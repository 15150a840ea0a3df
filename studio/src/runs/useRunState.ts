// The live state of one run, behind one hook.
//
// Node states, the path and the live status come from the run's event stream
// (`GET .../runs/{key}/events`, folded by `runEvents.ts`). The run view
// (`GET /runs/{key}`: tree version, links, prompts, output, re-runs) is read once and
// again only when an event changes what it shows (input awaited or answered, the end).
// Only if the stream cannot be used does the hook poll the run view instead.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, storedToken, unwrap, type Schemas } from "../api/client";
import { isClosed, nodeStatesOf, type NodeState } from "../tree/runState";
import { followRunEvents } from "./eventStream";
import { applyEvent, EMPTY_RUN, type LiveRun } from "./runEvents";

export const RUN_POLL_MS = 500;
/** Events after which the run view is read again. */
const REFRESH_ON = new Set(["input.requested", "input.answered", "run.ended"]);

export type Transport = "connecting" | "stream" | "polling";

export interface RunState {
  run: Schemas["RunView"] | undefined;
  states: ReadonlyMap<string, NodeState>;
  /** Nodes in the order the run reached them. */
  path: readonly string[];
  status: string | undefined;
  /** Id of the newest event seen (changes whenever the run moves on). */
  lastEventId: number;
  transport: Transport;
  error: Error | null;
}

export function runQueryKey(tenantId: string, key: string): readonly unknown[] {
  return ["run", tenantId, key];
}

export function eventsUrl(tenantId: string, key: string): string {
  return `${window.location.origin}/v1/tenants/${encodeURIComponent(tenantId)}/runs/${encodeURIComponent(key)}/events`;
}

export function useRunState(tenantId: string, key: string): RunState {
  const queryClient = useQueryClient();
  const [live, setLive] = useState<LiveRun>(EMPTY_RUN);
  const [transport, setTransport] = useState<Transport>("connecting");

  useEffect(() => {
    const stop = new AbortController();
    setLive(EMPTY_RUN);
    setTransport("connecting");
    followRunEvents({
      url: eventsUrl(tenantId, key),
      token: storedToken,
      signal: stop.signal,
      onOpen: () => setTransport("stream"),
      onEvent: (event) => {
        setLive((current) => applyEvent(current, event));
        if (REFRESH_ON.has(event.type)) void queryClient.invalidateQueries({ queryKey: runQueryKey(tenantId, key) });
      },
    }).then((end) => {
      if (end === "failed" || end === "refused") setTransport("polling");
    });
    return () => stop.abort();
  }, [tenantId, key, queryClient]);

  const query = useQuery({
    queryKey: runQueryKey(tenantId, key),
    queryFn: () =>
      unwrap(api.GET("/v1/tenants/{tenant_id}/runs/{key}", { params: { path: { tenant_id: tenantId, key } } })),
    // Poll only without a stream, or briefly after the end until the view shows it closed.
    refetchInterval: (q) =>
      (transport === "polling" || live.ended) && !(q.state.data && isClosed(q.state.data.status)) ? RUN_POLL_MS : false,
  });
  const run = query.data;
  const streamed = transport !== "polling" && live.lastId > 0;
  // The closed status is shown with the run view that carries the whole output (the stream
  // has only a preview), so the badge and the output change together.
  const status = run && isClosed(run.status) ? run.status : streamed && !live.ended ? live.status : run?.status;
  return {
    run,
    states: streamed ? live.states : run ? nodeStatesOf(run) : new Map(),
    path: streamed ? live.path : (run?.path ?? []),
    status,
    lastEventId: live.lastId,
    transport,
    error: query.error,
  };
}
