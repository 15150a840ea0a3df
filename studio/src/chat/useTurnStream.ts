// Follows one turn's run events (SSE with the Authorization header) while it is answered.
import { useEffect, useState } from "react";
import { storedToken } from "../api/client";
import { followSse } from "./sse";
import { EMPTY_PROGRESS, reduceEvent, type RunEvent, type TurnProgress } from "./progress";

export function useTurnStream(tenant: string, runKey: string, active: boolean): TurnProgress {
  const [progress, setProgress] = useState<TurnProgress>(EMPTY_PROGRESS);
  useEffect(() => {
    if (!active) return;
    const controller = new AbortController();
    let ended = false;
    const url = `${window.location.origin}/v1/tenants/${tenant}/runs/${encodeURIComponent(runKey)}/events`;
    followSse({
      url,
      token: storedToken(),
      signal: controller.signal,
      done: () => ended,
      onMessage: (message) => {
        const event = JSON.parse(message.data) as RunEvent;
        if (event.type === "run.ended") ended = true;
        setProgress((p) => reduceEvent(p, event));
      },
    }).catch(() => undefined); // the messages poll still shows the answer when it lands
    return () => controller.abort();
  }, [tenant, runKey, active]);
  return progress;
}
