// Keeps an OIDC session alive: one refresh at a time (concurrent callers share it), and a
// fetch that, on a 401 with a refresh token at hand, refreshes once and retries.
import { readSession, sessionFromPair, writeSession, type StoredSession, type TokenPair } from "./tokens";

export interface RefresherDeps {
  fetch: (request: Request) => Promise<Response>;
  storage: Storage;
  now: () => number;
  origin: string;
}

export interface Refresher {
  /** Exchange the refresh token for a new pair; false (and signed out) when refused. */
  refresh: () => Promise<boolean>;
  /** `fetch` with the tab's token, refreshing once on a 401. */
  fetchWithRefresh: (request: Request) => Promise<Response>;
  /** Revoke the session at the API (best effort) and forget it. */
  signOut: () => Promise<void>;
  /** Store a session (sign-in) and tell the listeners. */
  store: (session: StoredSession | null) => void;
  /** Called with the session after every change; returns the unsubscribe. */
  subscribe: (listener: (session: StoredSession | null) => void) => () => void;
}

export function createRefresher(deps: RefresherDeps): Refresher {
  const listeners = new Set<(session: StoredSession | null) => void>();
  let inflight: Promise<boolean> | null = null;

  function store(session: StoredSession | null): void {
    writeSession(deps.storage, session);
    for (const listener of listeners) listener(session);
  }

  function post(path: string, body: unknown): Promise<Response> {
    return deps.fetch(
      new Request(`${deps.origin}${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      }),
    );
  }

  async function exchange(refreshToken: string): Promise<boolean> {
    let response: Response;
    try {
      response = await post("/v1/auth/refresh", { refresh_token: refreshToken });
    } catch {
      return false; // offline: keep the session, the next attempt may work
    }
    if (response.status === 401) {
      store(null); // refused (expired, revoked or reused): sign in again
      return false;
    }
    if (!response.ok) return false;
    store(sessionFromPair((await response.json()) as TokenPair, deps.now()));
    return true;
  }

  function refresh(): Promise<boolean> {
    const refreshToken = readSession(deps.storage)?.refreshToken;
    if (!refreshToken) return Promise.resolve(false);
    inflight ??= exchange(refreshToken).finally(() => {
      inflight = null;
    });
    return inflight;
  }

  /** The request with the tab's token, unless the caller chose one (a key being tried). */
  function authorized(request: Request, replace: boolean): Request {
    const token = readSession(deps.storage)?.accessToken;
    if (token && (replace || !request.headers.has("Authorization"))) {
      request.headers.set("Authorization", `Bearer ${token}`);
    }
    return request;
  }

  async function fetchWithRefresh(request: Request): Promise<Response> {
    const retry = request.clone();
    const response = await deps.fetch(authorized(request, false));
    if (response.status !== 401 || !readSession(deps.storage)?.refreshToken) return response;
    if (!(await refresh())) return response;
    return deps.fetch(authorized(retry, true));
  }

  async function signOut(): Promise<void> {
    const refreshToken = readSession(deps.storage)?.refreshToken;
    store(null);
    if (!refreshToken) return;
    try {
      await post("/v1/auth/logout", { refresh_token: refreshToken });
    } catch {
      // The session is forgotten here either way; it expires at the API.
    }
  }

  function subscribe(listener: (session: StoredSession | null) => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  return { refresh, fetchWithRefresh, signOut, store, subscribe };
}
