// Start a run with a form generated from the tree's declared inputs.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { isRecord } from "../tree/model";
import { parseTree } from "../tree/yamlText";
import { ProblemMessage } from "./Problem";

interface InputSpec {
  type?: string;
  description?: string;
  required?: boolean;
  default?: unknown;
}

function valueOf(spec: InputSpec, text: string): unknown {
  switch (spec.type) {
    case "integer":
    case "number":
      return text === "" ? undefined : Number(text);
    case "boolean":
      return text === "true";
    case "object":
    case "array":
    case "any":
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    default:
      return text;
  }
}

export function StartRun() {
  const { tenant, name } = useParams() as { tenant: string; name: string };
  const navigate = useNavigate();
  const tree = useQuery({
    queryKey: ["tree", tenant, name],
    queryFn: () => unwrap(api.GET("/v1/tenants/{tenant_id}/trees/{name}", { params: { path: { tenant_id: tenant, name } } })),
  });
  const number = tree.data ? (tree.data.published_version ?? tree.data.latest_version) : undefined;
  const version = useQuery({
    queryKey: ["version", tenant, name, number],
    enabled: number !== undefined,
    queryFn: () =>
      unwrap(api.GET("/v1/tenants/{tenant_id}/trees/{name}/versions/{version}", { params: { path: { tenant_id: tenant, name, version: number! } } })),
  });
  const declared = (() => {
    const inputs = version.data?.source ? parseTree(version.data.source).tree?.inputs : undefined;
    return isRecord(inputs) ? (inputs as Record<string, InputSpec>) : {};
  })();
  const [values, setValues] = useState<Record<string, string>>({});
  const start = useMutation({
    mutationFn: () => {
      const inputs: Record<string, unknown> = {};
      for (const [field, spec] of Object.entries(declared)) {
        const text = values[field];
        if (text === undefined || text === "") continue;
        inputs[field] = valueOf(spec, text);
      }
      const key = `studio-${crypto.randomUUID()}`;
      return unwrap(
        api.POST("/v1/tenants/{tenant_id}/runs", {
          params: { path: { tenant_id: tenant }, header: { "Idempotency-Key": key } },
          body: { tree: name, inputs },
        }),
      );
    },
    onSuccess: (run) => navigate(`/t/${tenant}/runs/${encodeURIComponent(run.id)}`),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    start.mutate();
  };
  return (
    <section className="card narrow">
      <h1>Run {name}</h1>
      <ProblemMessage error={tree.error ?? version.error} />
      {number !== undefined && (
        <p>
          Version {number} · <Link to={`/t/${tenant}/runs?tree=${encodeURIComponent(name)}`}>Past runs of {name}</Link>
        </p>
      )}
      <form onSubmit={submit}>
        {Object.entries(declared).map(([field, spec]) => {
          const id = `input-${field}`;
          const required = spec.required !== false && spec.default === undefined;
          return (
            <div className="field" key={field}>
              <label htmlFor={id}>
                {field}
                {required ? " (required)" : ""}
              </label>
              {spec.type === "boolean" ? (
                <select id={id} value={values[field] ?? String(spec.default ?? "false")} onChange={(e) => setValues({ ...values, [field]: e.target.value })}>
                  <option value="true">true</option>
                  <option value="false">false</option>
                </select>
              ) : (
                <input
                  id={id}
                  required={required}
                  type={spec.type === "integer" || spec.type === "number" ? "number" : "text"}
                  placeholder={spec.default !== undefined ? String(spec.default) : spec.type ?? "string"}
                  value={values[field] ?? ""}
                  onChange={(e) => setValues({ ...values, [field]: e.target.value })}
                />
              )}
              {spec.description && <small>{spec.description}</small>}
            </div>
          );
        })}
        {version.data && Object.keys(declared).length === 0 && <p className="hint">This tree declares no inputs.</p>}
        <button type="submit" disabled={!version.data || start.isPending}>
          Start run
        </button>
      </form>
      <ProblemMessage error={start.error} />
    </section>
  );
}
