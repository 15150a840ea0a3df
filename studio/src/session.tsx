// Who is signed in (the token in session storage) and their roles, from GET /v1/me.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useState, type ReactNode } from "react";
import { api, storeToken, storedToken, unwrap, type Schemas } from "./api/client";

interface Session {
  token: string | null;
  me: Schemas["Me"] | undefined;
  signIn: (token: string) => Promise<void>;
  signOut: () => void;
  roleIn: (tenantId: string) => string | undefined;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [token, setToken] = useState<string | null>(storedToken());
  const queryClient = useQueryClient();
  const me = useQuery({
    queryKey: ["me", token],
    enabled: token !== null,
    queryFn: () => unwrap(api.GET("/v1/me")),
  });
  const signIn = useCallback(
    async (candidate: string) => {
      storeToken(candidate);
      try {
        await unwrap(api.GET("/v1/me"));
      } catch (error) {
        storeToken(null);
        throw error;
      }
      queryClient.clear();
      setToken(candidate);
    },
    [queryClient],
  );
  const signOut = useCallback(() => {
    storeToken(null);
    queryClient.clear();
    setToken(null);
  }, [queryClient]);
  const roleIn = useCallback(
    (tenantId: string) => me.data?.memberships.find((m) => m.tenant_id === tenantId)?.role,
    [me.data],
  );
  return (
    <SessionContext.Provider value={{ token, me: me.data, signIn, signOut, roleIn }}>
      {children}
    </SessionContext.Provider>
  );
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error("useSession outside SessionProvider");
  return session;
}

/** Whether the signed-in caller may edit in this tenant (user or admin). */
export function useCanEdit(tenantId: string): boolean {
  const { roleIn } = useSession();
  const role = roleIn(tenantId);
  return role === "user" || role === "admin";
}
