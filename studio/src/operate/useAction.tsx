// A button's call to the API: busy while it runs, its problem kept to show, and the
// listed data refetched after it.
import { useQuery, useQueryClient, type QueryKey } from "@tanstack/react-query";
import { useParams } from "react-router-dom";
import { useCallback, useState, type ReactNode } from "react";

export interface Action {
  run: <T>(call: () => Promise<T>) => Promise<T | undefined>;
  busy: boolean;
  error: unknown;
}

export function useAction(refetch: QueryKey): Action {
  const queryClient = useQueryClient();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(
    async <T,>(call: () => Promise<T>): Promise<T | undefined> => {
      setBusy(true);
      setError(null);
      try {
        return await call();
      } catch (caught) {
        setError(caught);
        return undefined;
      } finally {
        setBusy(false);
        await queryClient.invalidateQueries({ queryKey: refetch });
      }
    },
    [queryClient, refetch],
  );
  return { run, busy, error };
}

export type TenantPath = { tenant_id: string };

/** A tenant's list (`name` keys its cache) loaded with `load`, and the action that refetches it. */
export function useTenantList<T>(name: string, load: (path: TenantPath) => Promise<T>) {
  const tenant = useParams().tenant!;
  const path = { tenant_id: tenant };
  const key = [name, tenant];
  const list = useQuery({ queryKey: key, queryFn: () => load(path) });
  return { tenant, path, list, action: useAction(key) };
}

/** A table row's one action: its cell with a button named for the row, off while any action runs. */
export function RowAction({ action, label, onClick, children }: {
  action: Action;
  label: string;
  onClick: () => void;
  children: ReactNode;
}) {
  return (
    <td>
      <button type="button" disabled={action.busy} aria-label={label} onClick={onClick}>
        {children}
      </button>
    </td>
  );
}
