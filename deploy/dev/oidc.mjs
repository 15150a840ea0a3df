// Dev/CI-only OpenID Connect provider for the Treeflow login tests.
//
// Wraps oauth2-mock-server 8 (pinned in package-lock.json) and adds two things the
// tests need and the library leaves to in-process JavaScript hooks:
//
//  1. A stable issuer and a stable signing key. The issuer is exactly
//     http://<OIDC_HOST>:<OIDC_PORT> (the library would say "localhost"), and the RS256
//     key is kept in OIDC_KEY_FILE (under .ci/state/, created on first start), so a
//     restart of this process does not invalidate the JWKS a test already cached.
//
//  2. Per-login claims, chosen by the test, without a control channel:
//     add `mock_claims=<JSON object>` to the query string of the /authorize request
//     (the URL the app redirected the browser/test to). Those claims are merged into
//     the id_token and the access_token issued for that authorization code, into the
//     tokens issued later from its refresh_token, and they are what /userinfo returns
//     for that access token. They replace DEFAULT_CLAIMS (below) as a whole, except
//     that `sub` stays "johndoe" unless given. Without mock_claims every login is
//     DEFAULT_CLAIMS.
//     Claims set that way override anything, including iss/aud/exp/nonce, which is
//     what negative tests (wrong audience, expired token) want; the app must reject
//     those. State is per authorization code, so parallel tests do not interfere.
//
// Everything here is test scaffolding: no secret in this file protects anything.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { OAuth2Server } from 'oauth2-mock-server';

const host = process.env.OIDC_HOST ?? '127.0.0.1';
const port = Number.parseInt(process.env.OIDC_PORT ?? '8765', 10);
const keyFile = process.env.OIDC_KEY_FILE;

// Identity of the default user (the library's own default `sub` is "johndoe").
const DEFAULT_CLAIMS = Object.freeze({
  sub: 'johndoe',
  email: 'johndoe@example.com',
  email_verified: true,
  name: 'John Doe',
  preferred_username: 'johndoe',
});
// Claims that only make sense on the id_token (they would break an access token).
const ID_TOKEN_ONLY = new Set(['aud', 'nonce', 'azp', 'at_hash', 'c_hash']);
const MAX_PENDING = 1000; // bound the per-code/per-token maps

class BoundedMap extends Map {
  set(key, value) {
    if (!this.has(key) && this.size >= MAX_PENDING) {
      this.delete(this.keys().next().value);
    }
    return super.set(key, value);
  }
}
const claimsByCode = new BoundedMap();
const claimsByRefreshToken = new BoundedMap();
const claimsByAccessToken = new BoundedMap();

function parseClaims(raw) {
  if (raw === undefined) return {};
  if (typeof raw !== 'string') throw new Error('mock_claims must be given once');
  const value = JSON.parse(raw);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error('mock_claims must be a JSON object');
  }
  return value;
}

const server = new OAuth2Server();

if (keyFile && existsSync(keyFile)) {
  await server.issuer.keys.add(JSON.parse(readFileSync(keyFile, 'utf8')));
} else {
  const jwk = await server.issuer.keys.generate('RS256');
  if (keyFile) {
    mkdirSync(dirname(keyFile), { recursive: true });
    writeFileSync(keyFile, JSON.stringify(jwk), { mode: 0o600 });
  }
}
server.issuer.url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

const service = server.service;

// /authorize: remember the test's claims under the code being handed out.
service.on('beforeAuthorizeRedirect', (redirect, req) => {
  const code = redirect.url.searchParams.get('code');
  if (!code) return;
  let claims;
  try {
    claims = parseClaims(req.query.mock_claims);
  } catch (error) {
    // Surface the mistake in the redirect instead of silently using defaults.
    redirect.url.searchParams.delete('code');
    redirect.url.searchParams.set('error', 'invalid_request');
    redirect.url.searchParams.set('error_description', `oidc.mjs: ${error.message}`);
    return;
  }
  // mock_claims replaces the default identity (only `sub` falls back to the default),
  // so a test for "bob" never inherits John Doe's name or email by accident.
  const identity = req.query.mock_claims === undefined ? DEFAULT_CLAIMS : { sub: DEFAULT_CLAIMS.sub, ...claims };
  claimsByCode.set(code, identity);
});

function claimsForTokenRequest(req) {
  const body = req.body ?? {};
  if (body.grant_type === 'authorization_code') return claimsByCode.get(body.code);
  if (body.grant_type === 'refresh_token') return claimsByRefreshToken.get(body.refresh_token);
  return undefined;
}

// /token: the library signs the access_token first (it carries `scope`), then the
// id_token (it carries `aud` = client_id). Apply the login's claims to both.
service.on('beforeTokenSigning', (token, req) => {
  const body = req.body ?? {};
  if (body.grant_type === 'client_credentials') return;
  const claims = claimsForTokenRequest(req) ?? DEFAULT_CLAIMS;
  const isAccessToken = 'scope' in token.payload;
  for (const [name, value] of Object.entries(claims)) {
    if (isAccessToken && ID_TOKEN_ONLY.has(name)) continue;
    token.payload[name] = value;
  }
});

// After /token answered: move the claims from the one-time code to the tokens.
service.on('beforeResponse', (response, req) => {
  const body = req.body ?? {};
  if (body.grant_type === 'client_credentials' || response.statusCode !== 200) return;
  const claims = claimsForTokenRequest(req) ?? DEFAULT_CLAIMS;
  if (body.grant_type === 'authorization_code') claimsByCode.delete(body.code);
  if (response.body.refresh_token) claimsByRefreshToken.set(response.body.refresh_token, claims);
  if (response.body.access_token) claimsByAccessToken.set(response.body.access_token, claims);
});

// /userinfo: the identity claims of the login the bearer token came from.
service.on('beforeUserinfo', (response, req) => {
  const auth = req.headers.authorization ?? '';
  const bearer = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length).trim() : '';
  const claims = claimsByAccessToken.get(bearer) ?? DEFAULT_CLAIMS;
  const info = {};
  for (const [name, value] of Object.entries(claims)) {
    if (!ID_TOKEN_ONLY.has(name) && !['iss', 'exp', 'iat', 'nbf'].includes(name)) info[name] = value;
  }
  response.body = info;
});

try {
  await server.start(port, host);
} catch (error) {
  console.error(`oidc.mjs: cannot listen on ${host}:${port}:`, error.message);
  process.exit(1);
}
console.log(`oidc.mjs: OIDC mock provider listening, issuer ${server.issuer.url}`);

let stopping = false;
const shutdown = async (signal) => {
  if (stopping) return;
  stopping = true;
  console.log(`oidc.mjs: ${signal} received, stopping`);
  setTimeout(() => process.exit(0), 5_000).unref();
  try {
    await server.stop();
  } catch {
    // already closed
  }
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
