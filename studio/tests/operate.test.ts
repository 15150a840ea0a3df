// Token timing, session storage, the refresher (refresh ahead, once on a 401, sign-out) and
// the OIDC callback parsing of the Studio's operate area.
import { describe, expect, it } from "vitest";
import { callbackAnswer, studioLoginUrl } from "../src/operate/oidc";
import { createRefresher } from "../src/operate/refresher";
import { scheduleTiming } from "../src/operate/schedule";
import {
  keySession,
  readSession,
  refreshDelay,
  refreshLeadSeconds,
  sessionFromPair,
  writeSession,
} from "../src/operate/tokens";

class MemoryStorage implements Storage {
  private items = new Map<string, string>();
  get length() {
    return this.items.size;
  }
  clear() {
    this.items.clear();
  }
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  key(index: number) {
    return [...this.items.keys()][index] ?? null;
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
}

const ORIGIN = "http://studio.test";
const pair = (n: number, expiresIn = 300) => ({
  access_token: `at-${n}`,
  refresh_token: `tfr_${n}`,
  expires_in: expiresIn,
});

function json(status: number, body: unknown): Response {
  return new Response(body === null ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

/** A refresher over a scripted API: `answer` decides each response. */
function harness(answer: (request: Request, seen: Request[]) => Response | Promise<Response>) {
  const storage = new MemoryStorage();
  const seen: Request[] = [];
  const refresher = createRefresher({
    storage,
    now: () => 1_000_000,
    origin: ORIGIN,
    fetch: async (request) => {
      seen.push(request);
      return answer(request, seen);
    },
  });
  return { storage, seen, refresher };
}

describe("token timing", () => {
  it("refreshes a third of the lifetime early, at most a minute", () => {
    expect(refreshLeadSeconds(30)).toBe(10);
    expect(refreshLeadSeconds(300)).toBe(60);
    expect(refreshLeadSeconds(3600)).toBe(60);
  });

  it("schedules the refresh from the pair's lifetime", () => {
    const session = sessionFromPair(pair(1, 300), 1_000);
    expect(session).toEqual({ accessToken: "at-1", refreshToken: "tfr_1", expiresAt: 301_000, refreshAt: 241_000 });
    expect(refreshDelay(session, 1_000)).toBe(240_000);
    expect(refreshDelay(session, 500_000)).toBe(0); // the tab slept past it: now
  });

  it("never refreshes an API key or no session", () => {
    expect(refreshDelay(keySession("tfk_x"), 0)).toBeNull();
    expect(refreshDelay(null, 0)).toBeNull();
  });

  it("treats a negative lifetime as already due", () => {
    expect(sessionFromPair(pair(1, -5), 7).refreshAt).toBe(7);
  });
});

describe("session storage", () => {
  it("round-trips an OIDC session and clears every key", () => {
    const storage = new MemoryStorage();
    const session = sessionFromPair(pair(2), 0);
    writeSession(storage, session);
    expect(readSession(storage)).toEqual(session);
    writeSession(storage, null);
    expect(readSession(storage)).toBeNull();
    expect(storage.length).toBe(0);
  });

  it("reads an API key stored under the original key, ignoring garbage numbers", () => {
    const storage = new MemoryStorage();
    storage.setItem("treeflow.studio.token", "tfk_abc");
    storage.setItem("treeflow.studio.expires-at", "soon");
    expect(readSession(storage)).toEqual(keySession("tfk_abc"));
  });
});

describe("refresher", () => {
  it("puts the tab's token on requests unless the caller chose one", async () => {
    const { storage, seen, refresher } = harness(() => json(200, {}));
    await refresher.fetchWithRefresh(new Request(`${ORIGIN}/v1/me`));
    expect(seen[0]!.headers.get("Authorization")).toBeNull();
    writeSession(storage, keySession("tfk_tab"));
    await refresher.fetchWithRefresh(new Request(`${ORIGIN}/v1/me`));
    expect(seen[1]!.headers.get("Authorization")).toBe("Bearer tfk_tab");
    await refresher.fetchWithRefresh(new Request(`${ORIGIN}/v1/me`, { headers: { Authorization: "Bearer tfk_try" } }));
    expect(seen[2]!.headers.get("Authorization")).toBe("Bearer tfk_try");
  });

  it("refreshes once on a 401 and retries with the new token and the same body", async () => {
    const { storage, seen, refresher } = harness(async (request) => {
      if (request.url.endsWith("/v1/auth/refresh")) return json(200, pair(2));
      return request.headers.get("Authorization") === "Bearer at-2" ? json(201, { ok: true }) : json(401, {});
    });
    refresher.store(sessionFromPair(pair(1), 0));
    const response = await refresher.fetchWithRefresh(
      new Request(`${ORIGIN}/v1/things`, { method: "POST", body: JSON.stringify({ a: 1 }) }),
    );
    expect(response.status).toBe(201);
    expect(seen.map((r) => new URL(r.url).pathname)).toEqual(["/v1/things", "/v1/auth/refresh", "/v1/things"]);
    expect(await seen[1]!.json()).toEqual({ refresh_token: "tfr_1" });
    expect(await seen[2]!.json()).toEqual({ a: 1 });
    expect(readSession(storage)?.accessToken).toBe("at-2");
  });

  it("does not refresh an API key's 401", async () => {
    const { seen, refresher } = harness(() => json(401, {}));
    refresher.store(keySession("tfk_old"));
    expect((await refresher.fetchWithRefresh(new Request(`${ORIGIN}/v1/me`))).status).toBe(401);
    expect(seen).toHaveLength(1);
  });

  it("shares one refresh between concurrent callers and tells the listeners", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { seen, refresher } = harness(async () => {
      await gate;
      return json(200, pair(3));
    });
    const heard: (string | null)[] = [];
    const unsubscribe = refresher.subscribe((s) => heard.push(s?.accessToken ?? null));
    refresher.store(sessionFromPair(pair(1), 0));
    const both = Promise.all([refresher.refresh(), refresher.refresh()]);
    release();
    expect(await both).toEqual([true, true]);
    expect(seen).toHaveLength(1);
    expect(heard).toEqual(["at-1", "at-3"]);
    unsubscribe();
    refresher.store(null);
    expect(heard).toHaveLength(2);
  });

  it("signs out when the refresh token is refused, keeps the session when offline or on 5xx", async () => {
    let mode: "refused" | "offline" | "down" = "offline";
    const { storage, refresher } = harness(() => {
      if (mode === "offline") throw new TypeError("network");
      return json(mode === "refused" ? 401 : 503, {});
    });
    refresher.store(sessionFromPair(pair(1), 0));
    expect(await refresher.refresh()).toBe(false);
    mode = "down";
    expect(await refresher.refresh()).toBe(false);
    expect(readSession(storage)?.refreshToken).toBe("tfr_1");
    mode = "refused";
    expect(await refresher.refresh()).toBe(false);
    expect(readSession(storage)).toBeNull();
    expect(await refresher.refresh()).toBe(false); // nothing left to refresh
  });

  it("returns the 401 when the retry's refresh fails", async () => {
    const { refresher } = harness(() => json(401, {}));
    refresher.store(sessionFromPair(pair(1), 0));
    expect((await refresher.fetchWithRefresh(new Request(`${ORIGIN}/v1/me`))).status).toBe(401);
  });

  it("signs out by revoking the session at the API, even when that fails", async () => {
    const { storage, seen, refresher } = harness(() => {
      throw new TypeError("network");
    });
    refresher.store(sessionFromPair(pair(4), 0));
    await refresher.signOut();
    expect(new URL(seen[0]!.url).pathname).toBe("/v1/auth/logout");
    expect(await seen[0]!.json()).toEqual({ refresh_token: "tfr_4" });
    expect(readSession(storage)).toBeNull();
    refresher.store(keySession("tfk_k"));
    await refresher.signOut(); // an API key: nothing to revoke
    expect(seen).toHaveLength(1);
  });
});

describe("oidc", () => {
  it("asks the API to come back to the Studio", () => {
    expect(studioLoginUrl("/v1/auth/login/acme")).toBe("/v1/auth/login/acme?client=studio");
    expect(studioLoginUrl("/v1/auth/login/acme?x=1")).toBe("/v1/auth/login/acme?x=1&client=studio");
  });

  it("reads the provider's answer", () => {
    expect(callbackAnswer("?code=c1&state=s1")).toEqual({ ok: true, code: "c1", state: "s1" });
    expect(callbackAnswer("?error=access_denied&error_description=no")).toEqual({ ok: false, reason: "access_denied: no" });
    expect(callbackAnswer("?error=access_denied")).toEqual({ ok: false, reason: "access_denied" });
    expect(callbackAnswer("?state=s1")).toEqual({ ok: false, reason: "the provider sent no code" });
  });
});

describe("schedule timing", () => {
  it("sends a cron or an interval, leaving a bad interval for the API to name", () => {
    expect(scheduleTiming("cron", " 0 6 * * * ")).toEqual({ cron: "0 6 * * *" });
    expect(scheduleTiming("interval", "3600")).toEqual({ interval_seconds: 3600 });
    expect(scheduleTiming("interval", "soon")).toEqual({ interval_seconds: "soon" });
    expect(scheduleTiming("interval", "")).toEqual({ interval_seconds: "" });
  });
});
