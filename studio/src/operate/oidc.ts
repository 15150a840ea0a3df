// The Studio's half of the OIDC code + PKCE login: the API keeps the PKCE verifier and
// redeems the code; the Studio starts the login and hands the provider's answer back.

/** Where a provider button sends the browser: the API's login, returning to the Studio. */
export function studioLoginUrl(loginUrl: string): string {
  return `${loginUrl}${loginUrl.includes("?") ? "&" : "?"}client=studio`;
}

export type CallbackAnswer =
  | { ok: true; code: string; state: string }
  | { ok: false; reason: string };

/** What the provider put in the query of the Studio's callback page. */
export function callbackAnswer(search: string): CallbackAnswer {
  const query = new URLSearchParams(search);
  const error = query.get("error");
  if (error) {
    const description = query.get("error_description");
    return { ok: false, reason: description ? `${error}: ${description}` : error };
  }
  const code = query.get("code");
  const state = query.get("state");
  if (!code || !state) return { ok: false, reason: "the provider sent no code" };
  return { ok: true, code, state };
}
