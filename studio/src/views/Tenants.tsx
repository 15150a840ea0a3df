// Pick a tenant: the caller's memberships (names from GET /v1/tenants).
import { useQuery } from "@tanstack/react-query";
import { Link, Navigate } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { useSession } from "../session";
import { ProblemMessage } from "./Problem";

export function Tenants() {
  const { me } = useSession();
  const tenants = useQuery({ queryKey: ["tenants"], queryFn: () => unwrap(api.GET("/v1/tenants")) });
  if (!me) return <p>Loading…</p>;
  const names = new Map((tenants.data?.tenants ?? []).map((t) => [t.id, t.name]));
  if (me.memberships.length === 1 && me.memberships[0]) {
    return <Navigate to={`/t/${me.memberships[0].tenant_id}/trees`} replace />;
  }
  return (
    <section>
      <h1>Pick a tenant</h1>
      <ProblemMessage error={tenants.error} />
      {me.memberships.length === 0 && <p>You are not a member of any tenant.</p>}
      <ul className="list">
        {me.memberships.map((m) => (
          <li key={m.tenant_id}>
            <Link to={`/t/${m.tenant_id}/trees`}>{names.get(m.tenant_id) ?? m.tenant_id}</Link>{" "}
            <span className="badge">{m.role}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
