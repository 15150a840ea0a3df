// Follows one turn's run events while it is answered, through the run view's stream reader
// (fetch with the Authorization header, resuming after the last id on reconnect).
import { useEffect, useState } from "react";
import { storedToken } from "../api/client";
import { followRunEvents } from "../runs/eventStream";
import { EMPTY_PROGRESS, reduceEvent, type TurnProgress } from "./progress";

export function useTurnStream(tenant: string, runKey: string, active: boolean): TurnProgress {
  const [progress, setProgress] = useState<TurnProgress>(EMPTY_PROGRESS);
  useEffect(() => {
    if (!active) return;
    const controller = new AbortController();
    const url = `${window.location.origin}/v1/tenants/${tenant}/runs/${encodeURIComponent(runKey)}/events`;
    // However the stream ends, the messages poll still shows the answer when it lands.
    void followRunEvents({
      url,
      token: storedToken,
      signal: controller.signal,
      onEvent: (event) => setProgress((p) => reduceEvent(p, event)),
    });
    return () => controller.abort();
  }, [tenant, runKey, active]);
  return progress;
}
