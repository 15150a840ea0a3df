// The tenant's API keys: list, create (the secret is shown once), rotate, revoke. Admins only;
// anyone else sees the API's problem.
import { useState, type FormEvent } from "react";
import { api, unwrap } from "../api/client";
import { useIsAdmin } from "../session";
import { ProblemMessage } from "../views/Problem";
import { TableHead } from "../views/TableHead";
import { useTenantList } from "./useAction";

const ROLES = ["read-only", "user", "admin"] as const;
type Role = (typeof ROLES)[number];

export function ApiKeys() {
  const { tenant, path, list: keys, action } = useTenantList("api-keys", (path) =>
    unwrap(api.GET("/v1/tenants/{tenant_id}/api-keys", { params: { path } })),
  );
  const isAdmin = useIsAdmin(tenant);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("user");
  const [secret, setSecret] = useState<{ name: string; key: string } | null>(null);

  async function create(event: FormEvent) {
    event.preventDefault();
    const created = await action.run(() =>
      unwrap(api.POST("/v1/tenants/{tenant_id}/api-keys", { params: { path }, body: { name: name.trim(), role, expires_in_days: 90 } })),
    );
    if (created) {
      setSecret({ name: created.name, key: created.key });
      setName("");
    }
  }
  async function rotate(id: string, keyName: string) {
    const created = await action.run(() =>
      unwrap(api.POST("/v1/tenants/{tenant_id}/api-keys/{key_id}/rotate", { params: { path: { ...path, key_id: id } } })),
    );
    if (created) setSecret({ name: keyName, key: created.key });
  }
  function revoke(id: string) {
    void action.run(() =>
      unwrap(api.DELETE("/v1/tenants/{tenant_id}/api-keys/{key_id}", { params: { path: { ...path, key_id: id } } })),
    );
  }

  const active = (keys.data?.api_keys ?? []).filter((k) => k.revoked_at === null);
  return (
    <section aria-labelledby="api-keys-heading">
      <h2 id="api-keys-heading">API keys</h2>
      <ProblemMessage error={keys.error} />
      {secret && (
        <div role="status" className="card secret-once">
          <p>
            The key <strong>{secret.name}</strong>; copy it now, it is not shown again:
          </p>
          <code className="secret">{secret.key}</code>
          <button type="button" onClick={() => setSecret(null)}>
            Done
          </button>
        </div>
      )}
      {isAdmin && keys.data && (
        <form onSubmit={create} className="inline-form" aria-label="New API key">
          <label htmlFor="key-name">Key name</label>
          <input id="key-name" value={name} onChange={(e) => setName(e.target.value)} required />
          <label htmlFor="key-role">Role</label>
          <select id="key-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
          <button type="submit" disabled={action.busy || name.trim() === ""}>
            Create key
          </button>
        </form>
      )}
      <ProblemMessage error={action.error} />
      {keys.data && (
        <table className="table">
          <TableHead columns={["Name", "Prefix", "Role", "Expires"]} actions={isAdmin} />
          <tbody>
            {active.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td>
                  <code>{k.prefix}</code>
                </td>
                <td>{k.role ?? "scoped"}</td>
                <td>{k.expires_at ? new Date(k.expires_at).toLocaleDateString() : "never"}</td>
                {isAdmin && (
                  <td>
<div className="operate-actions">
                    <button type="button" disabled={action.busy} onClick={() => void rotate(k.id, k.name)} aria-label={`Rotate ${k.name}`}>
                      Rotate
                    </button>
                    <button type="button" disabled={action.busy} onClick={() => revoke(k.id)} aria-label={`Revoke ${k.name}`}>
                      Revoke
                    </button>
                  </div>
</td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
