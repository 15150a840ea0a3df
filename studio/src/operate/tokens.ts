// The tab's credentials in session storage (an API key, or an OIDC session's access and
// refresh tokens) and when an OIDC access token should be refreshed.

/** What the tab is signed in with. API keys carry no refresh token and never expire here. */
export interface StoredSession {
  accessToken: string;
  refreshToken: string | null;
  /** Epoch ms after which the access token is refused; null for API keys. */
  expiresAt: number | null;
  /** Epoch ms at which to refresh ahead of expiry; null for API keys. */
  refreshAt: number | null;
}

/** The token pair the API answers on login and refresh (`Tokens`). */
export interface TokenPair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

const ACCESS_KEY = "treeflow.studio.token"; // the key the API-key sign-in always used
const REFRESH_KEY = "treeflow.studio.refresh";
const EXPIRES_KEY = "treeflow.studio.expires-at";
const REFRESH_AT_KEY = "treeflow.studio.refresh-at";

/** How long before expiry to refresh: a third of the lifetime, at most a minute. */
export function refreshLeadSeconds(expiresIn: number): number {
  return Math.min(60, expiresIn / 3);
}

/** The session a fresh token pair opens, received at `now` (epoch ms). */
export function sessionFromPair(pair: TokenPair, now: number): StoredSession {
  const lifetime = Math.max(0, pair.expires_in);
  return {
    accessToken: pair.access_token,
    refreshToken: pair.refresh_token,
    expiresAt: now + lifetime * 1000,
    refreshAt: now + (lifetime - refreshLeadSeconds(lifetime)) * 1000,
  };
}

/** Milliseconds to wait before refreshing (0: now, also when the tab slept past it); null: never. */
export function refreshDelay(session: StoredSession | null, now: number): number | null {
  if (session === null || session.refreshToken === null || session.refreshAt === null) return null;
  return Math.max(0, session.refreshAt - now);
}

function numberOf(text: string | null): number | null {
  if (text === null) return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

export function readSession(storage: Storage): StoredSession | null {
  const accessToken = storage.getItem(ACCESS_KEY);
  if (!accessToken) return null;
  return {
    accessToken,
    refreshToken: storage.getItem(REFRESH_KEY),
    expiresAt: numberOf(storage.getItem(EXPIRES_KEY)),
    refreshAt: numberOf(storage.getItem(REFRESH_AT_KEY)),
  };
}

function put(storage: Storage, key: string, value: string | number | null): void {
  if (value === null) storage.removeItem(key);
  else storage.setItem(key, String(value));
}

export function writeSession(storage: Storage, session: StoredSession | null): void {
  put(storage, ACCESS_KEY, session?.accessToken ?? null);
  put(storage, REFRESH_KEY, session?.refreshToken ?? null);
  put(storage, EXPIRES_KEY, session?.expiresAt ?? null);
  put(storage, REFRESH_AT_KEY, session?.refreshAt ?? null);
}

/** A plain API key (or a pasted access token): nothing to refresh. */
export function keySession(token: string): StoredSession {
  return { accessToken: token, refreshToken: null, expiresAt: null, refreshAt: null };
}
