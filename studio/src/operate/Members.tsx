// The tenant's members and pending invitations. Admins change roles, remove members, invite
// and cancel invitations; other members read the list.
import { useState, type FormEvent } from "react";
import { api, unwrap, type Schemas } from "../api/client";
import { useIsAdmin } from "../session";
import { ProblemMessage } from "../views/Problem";
import { TableHead } from "../views/TableHead";
import { RowAction, useTenantList } from "./useAction";

const ROLES: Schemas["Role"][] = ["read-only", "user", "admin"];

function Invitations() {
  const { path, list: invitations, action } = useTenantList("invitations", (path) =>
    unwrap(api.GET("/v1/tenants/{tenant_id}/invitations", { params: { path } })),
  );
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Schemas["Role"]>("user");
  async function invite(event: FormEvent) {
    event.preventDefault();
    const sent = await action.run(() =>
      unwrap(api.POST("/v1/tenants/{tenant_id}/invitations", { params: { path }, body: { email: email.trim(), role, expires_in_days: 14 } })),
    );
    if (sent) setEmail("");
  }
  const pending = (invitations.data?.invitations ?? []).filter((i) => i.accepted_at === null);
  return (
    <section aria-labelledby="invitations-heading">
      <h2 id="invitations-heading">Invitations</h2>
      <form onSubmit={invite} className="inline-form" aria-label="Invite a member">
        <label htmlFor="invite-email">Email</label>
        <input id="invite-email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
        <label htmlFor="invite-role">Role</label>
        <select id="invite-role" value={role} onChange={(e) => setRole(e.target.value as Schemas["Role"])}>
          {ROLES.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
        <button type="submit" disabled={action.busy || email.trim() === ""}>
          Invite
        </button>
      </form>
      <ProblemMessage error={invitations.error ?? action.error} />
      <ul className="plain">
        {pending.map((i) => (
          <li key={i.id}>
            {i.email ?? `${i.provider}:${i.subject}`} as {i.role}, until {new Date(i.expires_at).toLocaleDateString()}{" "}
            <button
              type="button"
              aria-label={`Cancel the invitation of ${i.email ?? i.subject}`}
              onClick={() =>
                void action.run(() =>
                  unwrap(api.DELETE("/v1/tenants/{tenant_id}/invitations/{invitation_id}", { params: { path: { ...path, invitation_id: i.id } } })),
                )
              }
            >
              Cancel
            </button>
          </li>
        ))}
      </ul>
      {invitations.data && pending.length === 0 && <p>No pending invitations.</p>}
    </section>
  );
}

export function Members() {
  const { tenant, path, list: members, action } = useTenantList("members", (path) =>
    unwrap(api.GET("/v1/tenants/{tenant_id}/members", { params: { path } })),
  );
  const isAdmin = useIsAdmin(tenant);
  function changeRole(userId: string, role: Schemas["Role"]) {
    void action.run(() =>
      unwrap(api.PUT("/v1/tenants/{tenant_id}/members/{user_id}", { params: { path: { ...path, user_id: userId } }, body: { role } })),
    );
  }
  function remove(userId: string) {
    void action.run(() =>
      unwrap(api.DELETE("/v1/tenants/{tenant_id}/members/{user_id}", { params: { path: { ...path, user_id: userId } } })),
    );
  }
  return (
    <>
      <section aria-labelledby="members-heading">
        <h2 id="members-heading">Members</h2>
        <ProblemMessage error={members.error ?? action.error} />
        {members.data && (
          <table className="table">
            <TableHead columns={["Name", "Email", "Role"]} actions={isAdmin} />
            <tbody>
              {members.data.members.map((m) => (
                <tr key={m.user_id}>
                  <td>{m.display_name}</td>
                  <td>{m.email ?? "—"}</td>
                  <td>
                    {isAdmin ? (
                      <select
                        className="compact"
                        aria-label={`Role of ${m.display_name}`}
                        value={m.role}
                        disabled={action.busy}
                        onChange={(e) => changeRole(m.user_id, e.target.value as Schemas["Role"])}
                      >
                        {ROLES.map((r) => (
                          <option key={r}>{r}</option>
                        ))}
                      </select>
                    ) : (
                      m.role
                    )}
                  </td>
                  {isAdmin && (
                    <RowAction action={action} label={`Remove ${m.display_name}`} onClick={() => remove(m.user_id)}>
                      Remove
                    </RowAction>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {isAdmin && <Invitations />}
    </>
  );
}
