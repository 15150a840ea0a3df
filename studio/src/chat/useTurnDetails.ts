// A finished turn's steps, read once: cited objects and charts (whole results where the
// step records hold only a preview).
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { chartsOf, citedObjects, resultsOf, stepsToReadWhole, type StepLike } from "./citations";

export function useTurnDetails(tenant: string, runKey: string, finished: boolean) {
  return useQuery({
    queryKey: ["chat-turn", tenant, runKey],
    enabled: finished,
    staleTime: Infinity,
    queryFn: async () => {
      const path = { tenant_id: tenant, key: runKey };
      const { steps } = await unwrap(api.GET("/v1/tenants/{tenant_id}/runs/{key}/steps", { params: { path } }));
      const records = steps as StepLike[];
      const whole = new Map<number, unknown>();
      await Promise.all(
        stepsToReadWhole(records).map(async (step) => {
          const read = await unwrap(
            api.GET("/v1/tenants/{tenant_id}/runs/{key}/steps/{step}/result", { params: { path: { ...path, step: step.id } } }),
          );
          whole.set(step.id, read.result);
        }),
      );
      const results = resultsOf(records, whole);
      return { steps, citations: citedObjects(results), charts: chartsOf(results) };
    },
  });
}
