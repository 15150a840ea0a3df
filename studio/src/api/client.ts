// The typed API client (types generated from the served OpenAPI document) and its errors.
import createClient from "openapi-fetch";
import { createRefresher } from "../operate/refresher";
import { keySession, readSession } from "../operate/tokens";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type FieldError = { field: string; message: string };

/** An API problem (RFC 9457) with its field errors, thrown by `unwrap`. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string | null,
    readonly errors: FieldError[],
  ) {
    super(detail ?? title);
  }
}

/** The tab's credentials; OIDC sessions refresh ahead of expiry and once on a 401. */
export const credentials = createRefresher({
  fetch: (request) => fetch(request),
  storage: sessionStorage,
  now: () => Date.now(),
  origin: window.location.origin,
});

export function storedToken(): string | null {
  return readSession(sessionStorage)?.accessToken ?? null;
}

export function storeToken(token: string | null): void {
  credentials.store(token === null ? null : keySession(token));
}

export const api = createClient<paths>({
  baseUrl: window.location.origin,
  fetch: credentials.fetchWithRefresh,
});

function problemOf(status: number, body: unknown): ApiProblem {
  const value = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const errors = Array.isArray(value.errors) ? (value.errors as FieldError[]) : [];
  return new ApiProblem(
    status,
    typeof value.title === "string" ? value.title : `HTTP ${status}`,
    typeof value.detail === "string" ? value.detail : null,
    errors,
  );
}

/** The data of a call, or an `ApiProblem` thrown with the API's detail and field errors. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (error !== undefined || !response.ok) throw problemOf(response.status, error);
  return data as T;
}
