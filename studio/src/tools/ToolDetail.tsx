// One tool: its versions, each with description, deprecation and input/output schemas.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { useSession } from "../session";
import { ProblemMessage } from "../views/Problem";
import { TableHead } from "../views/TableHead";
import { schemaFields } from "./registry";
import { useTools } from "./Tools";

function SchemaTable({ title, schema }: { title: string; schema: Record<string, unknown> }) {
  const fields = schemaFields(schema);
  return (
    <section className="schema">
      <h3>{title}</h3>
      {fields.length === 0 ? (
        <p className="hint">No named fields.</p>
      ) : (
        <table className="table">
          <caption className="sr-only">{title}</caption>
          <TableHead columns={["Field", "Type", "Required", "Description", "Constraints"]} />
          <tbody>
            {fields.map((f) => (
              <tr key={f.path}>
                <th scope="row">
                  <code>{f.path}</code>
                </th>
                <td>{f.type}</td>
                <td>{f.required ? "required" : "optional"}</td>
                <td>{f.description}</td>
                <td>{f.notes.join("; ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <details>
        <summary>{title} as JSON Schema</summary>
        <pre>{JSON.stringify(schema, null, 2)}</pre>
      </details>
    </section>
  );
}

/** Admins deprecate a version of one of the tenant's own HTTP tools (compilers then warn). */
function Deprecate({ tenant, tool, version }: { tenant: string; tool: string; version: string }) {
  const queryClient = useQueryClient();
  const [message, setMessage] = useState("");
  const deprecate = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/v1/tenants/{tenant_id}/tools/{name}/versions/{version}/deprecate", {
          params: { path: { tenant_id: tenant, name: tool, version } },
          body: { message },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["tools", tenant] }),
  });
  const id = `deprecate-${version}`;
  return (
    <form
      className="row deprecate"
      onSubmit={(e) => {
        e.preventDefault();
        deprecate.mutate();
      }}
    >
      <label htmlFor={id}>Deprecation message</label>
      <input id={id} value={message} onChange={(e) => setMessage(e.target.value)} />
      <button type="submit" disabled={deprecate.isPending}>
        Deprecate {version}
      </button>
      <ProblemMessage error={deprecate.error} />
    </form>
  );
}

function VersionCard({ tenant, tool, version, canDeprecate }: {
  tenant: string;
  tool: Schemas["ToolOut"];
  version: Schemas["ToolVersionOut"];
  canDeprecate: boolean;
}) {
  return (
    <article className="card" aria-labelledby={`v-${version.version}`}>
      <h2 id={`v-${version.version}`}>
        {tool.name} {version.version}
      </h2>
      <p>{version.description}</p>
      <p className="row">
        <span className="badge">{version.kind}</span>
        <span className="badge">activity {version.activity}</span>
        <span className="badge">timeout {version.timeout_seconds}s</span>
        {version.tags.map((tag) => (
          <span key={tag} className="badge">
            {tag}
          </span>
        ))}
      </p>
      {version.deprecated && (
        <p className="problem">
          <strong>Deprecated:</strong> {version.deprecated}
        </p>
      )}
      {canDeprecate && !version.deprecated && <Deprecate tenant={tenant} tool={tool.name} version={version.version} />}
      <SchemaTable title="Input" schema={version.input_schema} />
      <SchemaTable title="Output" schema={version.output_schema} />
    </article>
  );
}

export function ToolDetail() {
  const { tenant, name } = useParams() as { tenant: string; name: string };
  const { roleIn } = useSession();
  const tools = useTools(tenant);
  const tool = tools.data?.tools.find((t) => t.name === name);
  const [chosen, setChosen] = useState<string | null>(null);
  if (tools.error) return <ProblemMessage error={tools.error} />;
  if (!tools.data) return <p>Loading…</p>;
  if (!tool) return <ProblemMessage error={new Error(`No tool named ${name} in this tenant.`)} />;
  const version = tool.versions.find((v) => v.version === (chosen ?? tool.latest)) ?? tool.versions[0];
  if (!version) return <p>{tool.name} has no versions.</p>;
  return (
    <section>
      <div className="row tool-head">
        <h1>{tool.name}</h1>
        <Link to={`/t/${tenant}/tools`}>All tools</Link>
        {!tool.allowed && <span className="badge">not allowed in this tenant</span>}
        <label htmlFor="tool-version">Version</label>
        <select id="tool-version" value={version.version} onChange={(e) => setChosen(e.target.value)}>
          {tool.versions.map((v) => (
            <option key={v.version} value={v.version}>
              {v.version}
              {v.deprecated ? " (deprecated)" : ""}
            </option>
          ))}
        </select>
      </div>
      <VersionCard
        tenant={tenant}
        tool={tool}
        version={version}
        canDeprecate={tool.source === "tenant" && roleIn(tenant) === "admin"}
      />
    </section>
  );
}
