// Who is signed in (the tab's credentials in session storage) and their roles, from GET /v1/me.
// An OIDC session refreshes its access token ahead of expiry; sign-out revokes it at the API.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { api, credentials, storeToken, storedToken, unwrap, type Schemas } from "./api/client";
import { readSession, refreshDelay, sessionFromPair, type TokenPair } from "./operate/tokens";

interface Session {
  token: string | null;
  me: Schemas["Me"] | undefined;
  /** Sign in with an API key (or a pasted access token), checked against /v1/me. */
  signIn: (token: string) => Promise<void>;
  /** Sign in with the token pair an OIDC login answered. */
  signInWithTokens: (pair: TokenPair) => void;
  signOut: () => void;
  roleIn: (tenantId: string) => string | undefined;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [token, setToken] = useState<string | null>(storedToken());
  const queryClient = useQueryClient();
  // Refreshes (timer or a 401) and refusals change the stored session: follow them.
  useEffect(() => credentials.subscribe((session) => setToken(session?.accessToken ?? null)), []);
  // Refresh ahead of expiry; every new token schedules the next refresh.
  useEffect(() => {
    const delay = refreshDelay(readSession(sessionStorage), Date.now());
    if (delay === null) return;
    const timer = window.setTimeout(() => void credentials.refresh(), delay);
    return () => window.clearTimeout(timer);
  }, [token]);
  const me = useQuery({
    queryKey: ["me", token === null],
    enabled: token !== null,
    queryFn: () => unwrap(api.GET("/v1/me")),
  });
  const signIn = useCallback(
    async (candidate: string) => {
      await unwrap(api.GET("/v1/me", { headers: { Authorization: `Bearer ${candidate}` } }));
      queryClient.clear();
      storeToken(candidate);
    },
    [queryClient],
  );
  const signInWithTokens = useCallback(
    (pair: TokenPair) => {
      queryClient.clear();
      credentials.store(sessionFromPair(pair, Date.now()));
    },
    [queryClient],
  );
  const signOut = useCallback(() => {
    void credentials.signOut();
    queryClient.clear();
  }, [queryClient]);
  const roleIn = useCallback(
    (tenantId: string) => me.data?.memberships.find((m) => m.tenant_id === tenantId)?.role,
    [me.data],
  );
  return (
    <SessionContext.Provider value={{ token, me: me.data, signIn, signInWithTokens, signOut, roleIn }}>
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

/** Whether the signed-in caller administers this tenant. */
export function useIsAdmin(tenantId: string): boolean {
  return useSession().roleIn(tenantId) === "admin";
}
