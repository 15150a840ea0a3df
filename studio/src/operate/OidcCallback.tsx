// The page a provider sends the browser back to: hands the code and state to the API, which
// redeems them with the PKCE verifier it kept, and opens the session.
import { useEffect, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { useSession } from "../session";
import { ProblemMessage } from "../views/Problem";
import { callbackAnswer } from "./oidc";

export function OidcCallback() {
  const { provider = "" } = useParams();
  const { signInWithTokens } = useSession();
  const navigate = useNavigate();
  const [error, setError] = useState<unknown>(null);
  const redeemed = useRef(false); // a login state is single use: redeem it once
  useEffect(() => {
    if (redeemed.current) return;
    redeemed.current = true;
    const answer = callbackAnswer(window.location.search);
    if (!answer.ok) {
      setError(new Error(`Sign-in at ${provider} failed: ${answer.reason}`));
      return;
    }
    unwrap(
      api.GET("/v1/auth/callback/{provider}", {
        params: { path: { provider }, query: { code: answer.code, state: answer.state } },
      }),
    )
      .then((tokens) => {
        signInWithTokens(tokens);
        navigate("/", { replace: true });
      })
      .catch(setError);
  }, [provider, signInWithTokens, navigate]);
  return (
    <section className="card narrow">
      <h1>Signing in with {provider}</h1>
      {error ? (
        <>
          <ProblemMessage error={error} />
          <Link to="/" replace>
            Back to sign-in
          </Link>
        </>
      ) : (
        <p>Finishing the sign-in…</p>
      )}
    </section>
  );
}
