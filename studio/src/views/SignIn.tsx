// Sign in with an API key (or an access token); the token stays in this tab's session storage.
import { useState, type FormEvent } from "react";
import { useSession } from "../session";
import { ProblemMessage } from "./Problem";

export function SignIn() {
  const { signIn } = useSession();
  const [key, setKey] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(key.trim());
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }
  return (
    <section className="card narrow">
      <h1>Sign in to Treeflow Studio</h1>
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
