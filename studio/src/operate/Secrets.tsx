// The tenant's secrets by NAME (the API never returns a value). Admins set a value
// (write-only: it is sent and forgotten) or delete a secret.
import { useState, type FormEvent } from "react";
import { api, unwrap } from "../api/client";
import { useIsAdmin } from "../session";
import { ProblemMessage } from "../views/Problem";
import { TableHead } from "../views/TableHead";
import { RowAction, useTenantList } from "./useAction";

export function Secrets() {
  const { tenant, path, list: secrets, action } = useTenantList("secrets", (path) =>
    unwrap(api.GET("/v1/tenants/{tenant_id}/secrets", { params: { path } })),
  );
  const isAdmin = useIsAdmin(tenant);
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  async function save(event: FormEvent) {
    event.preventDefault();
    const saved = await action.run(() =>
      unwrap(api.PUT("/v1/tenants/{tenant_id}/secrets/{name}", { params: { path: { ...path, name: name.trim() } }, body: { value, format: "token" } })),
    );
    setValue(""); // write-only: the value never stays in the page
    if (saved) setName("");
  }
  return (
    <section aria-labelledby="secrets-heading">
      <h2 id="secrets-heading">Secrets</h2>
      <p className="hint">Names only: values are write-only and never leave the secret store.</p>
      <ProblemMessage error={secrets.error} />
      {isAdmin && secrets.data && (
        <form onSubmit={save} className="inline-form" aria-label="Set a secret">
          <label htmlFor="secret-name">Secret name</label>
          <input id="secret-name" value={name} onChange={(e) => setName(e.target.value)} required />
          <label htmlFor="secret-value">Value</label>
          <input id="secret-value" type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} required />
          <button type="submit" disabled={action.busy || name.trim() === "" || value === ""}>
            Set secret
          </button>
        </form>
      )}
      <ProblemMessage error={action.error} />
      {secrets.data && secrets.data.secrets.length === 0 && <p>No secrets yet.</p>}
      {secrets.data && secrets.data.secrets.length > 0 && (
        <table className="table">
          <TableHead columns={["Name", "Version", "Reference", "Updated"]} actions={isAdmin} />
          <tbody>
            {secrets.data.secrets.map((s) => (
              <tr key={s.name}>
                <td>{s.name}</td>
                <td>{s.version}</td>
                <td>
                  <code>{s.reference}</code>
                </td>
                <td>{new Date(s.updated_at).toLocaleString()}</td>
                {isAdmin && (
                  <RowAction
                    action={action}
                    label={`Delete ${s.name}`}
                    onClick={() => void action.run(() => unwrap(api.DELETE("/v1/tenants/{tenant_id}/secrets/{name}", { params: { path: { ...path, name: s.name } } })))}
                  >
                    Delete
                  </RowAction>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
