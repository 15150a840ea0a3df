// The template gallery: description, declared inputs and samples; instantiate as a tree.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { useCanEdit } from "../session";
import { ProblemMessage } from "./Problem";

function TemplateCard({ tenant, template }: { tenant: string; template: Schemas["TemplateOut"] }) {
  const canEdit = useCanEdit(tenant);
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [treeName, setTreeName] = useState(template.name);
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/v1/tenants/{tenant_id}/templates/{name}/instantiate", {
          params: { path: { tenant_id: tenant, name: template.name } },
          body: { tree_name: treeName, publish: true },
        }),
      ),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ["trees", tenant] });
      navigate(`/t/${tenant}/trees/${treeName}`);
    },
  });
  const fieldId = `name-${template.name}`;
  return (
    <article className="card" aria-labelledby={`t-${template.name}`}>
      <h2 id={`t-${template.name}`}>{template.name}</h2>
      <p>{template.description}</p>
      <h3>Inputs</h3>
      <ul>
        {Object.entries(template.inputs).map(([name, spec]) => (
          <li key={name}>
            <code>{name}</code> {(spec as { description?: string }).description ?? ""}
          </li>
        ))}
      </ul>
      {template.samples.length > 0 && (
        <details>
          <summary>Samples ({template.samples.length})</summary>
          <ul>
            {template.samples.map((s) => (
              <li key={s.name}>
                <strong>{s.name}</strong>: {s.description} <code>{JSON.stringify(s.inputs)}</code>
              </li>
            ))}
          </ul>
        </details>
      )}
      {canEdit && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate();
          }}
        >
          <label htmlFor={fieldId}>Tree name</label>
          <input id={fieldId} value={treeName} onChange={(e) => setTreeName(e.target.value)} />
          <button type="submit" disabled={create.isPending}>
            Use {template.name}
          </button>
          <ProblemMessage error={create.error} />
        </form>
      )}
    </article>
  );
}

export function Templates() {
  const tenant = useParams().tenant!;
  const templates = useQuery({
    queryKey: ["templates", tenant],
    queryFn: () => unwrap(api.GET("/v1/tenants/{tenant_id}/templates", { params: { path: { tenant_id: tenant } } })),
  });
  return (
    <section>
      <h1>Template gallery</h1>
      <ProblemMessage error={templates.error} />
      <div className="grid">
        {(templates.data?.templates ?? []).map((t) => (
          <TemplateCard key={t.name} tenant={tenant} template={t} />
        ))}
      </div>
    </section>
  );
}
