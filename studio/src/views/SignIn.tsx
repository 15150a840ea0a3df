// Sign in with a configured OIDC provider or an API key (or an access token); the
// credentials stay in this tab's session storage.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { api, unwrap } from "../api/client";
import { studioLoginUrl } from "../operate/oidc";
import { useSession } from "../session";
import { ProblemMessage } from "./Problem";

/** One link per configured provider: the API runs the code + PKCE flow and comes back. */
function ProviderLinks() {
  const providers = useQuery({
    queryKey: ["auth-providers"],
    queryFn: () => unwrap(api.GET("/v1/auth/providers")),
  });
  const names = providers.data?.providers ?? [];
  if (names.length === 0) return <ProblemMessage error={providers.error} />;
  return (
    <nav aria-label="Sign-in providers" className="providers">
      {names.map((provider) => (
        <a key={provider.name} className="button" href={studioLoginUrl(provider.login_url)}>
          Sign in with {provider.name}
        </a>
      ))}
      <p className="hint">or with an API key:</p>
    </nav>
  );
}

export function SignIn() {
  const { signIn } = useSession();
  const [key, setKey] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const fromLink = useRef(false);
  // `./dev up` prints a one-click link with the dev key in the fragment (`#key=...`):
  // never sent to the server, and dropped from the address bar here.
  useEffect(() => {
    const linked = new URLSearchParams(window.location.hash.slice(1)).get("key");
    if (!linked || fromLink.current) return;
    fromLink.current = true;
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    void attempt(linked);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  async function attempt(candidate: string) {
    setBusy(true);
    setError(null);
    try {
      await signIn(candidate.trim());
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }
  function submit(event: FormEvent) {
    event.preventDefault();
    void attempt(key);
  }
  return (
    <section className="card narrow">
      <h1>Sign in to Treeflow Studio</h1>
      <ProviderLinks />
      <form onSubmit={submit}>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          placeholder="tfk_..."
          value={key}
          onChange={(e) => setKey(e.target.value)}
          required
        />
        <button type="submit" disabled={busy || key.trim() === ""}>
          Sign in
        </button>
      </form>
      <p className="hint">
        With <code>./dev up</code>, the admin key of the demo tenant is in <code>.treeflow/dev-api-key</code>.
      </p>
      <ProblemMessage error={error} />
    </section>
  );
}
