// The tenant's trees, searchable by name; links to the editor and to starting a run.
import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { TREE_NAME_PATTERN } from "../tree/model";
import { useCanEdit } from "../session";
import { QueryStatus } from "./Problem";
import { TableHead, Unseen } from "./TableHead";

export function Trees() {
  const tenant = useParams().tenant!;
  const canEdit = useCanEdit(tenant);
  const [search, setSearch] = useState("");
  const trees = useQuery({
    queryKey: ["trees", tenant],
    queryFn: () => unwrap(api.GET("/v1/tenants/{tenant_id}/trees", { params: { path: { tenant_id: tenant } } })),
  });
  const shown = (trees.data?.trees ?? []).filter((t) => t.name.includes(search.trim().toLowerCase()));
  return (
    <section>
      <div className="row">
        <h1>Trees</h1>
        {canEdit && (
          <Link className="button" to={`/t/${tenant}/templates`}>
            New from a template
          </Link>
        )}
      </div>
      {canEdit && <NewTree tenant={tenant} taken={(trees.data?.trees ?? []).map((t) => t.name)} />}
      <label htmlFor="tree-search">Search trees</label>
      <input id="tree-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
      <QueryStatus query={trees} />
      {trees.data && shown.length === 0 && <p>No trees{search ? ` matching “${search}”` : " yet"}.</p>}
      <table className="table">
        <TableHead columns={["Name", "Latest", "Published", "Updated", <Unseen>Actions</Unseen>]} />
        <tbody>
          {shown.map((t) => (
            <tr key={t.name}>
              <td>
                <Link to={`/t/${tenant}/trees/${t.name}`}>{t.name}</Link>
              </td>
              <td>v{t.latest_version}</td>
              <td>{t.published_version ? `v${t.published_version}` : "—"}</td>
              <td>{new Date(t.updated_at).toLocaleString()}</td>
              <td>
                {canEdit && <Link to={`/t/${tenant}/trees/${t.name}/run`}>Run {t.name}</Link>}{" "}
                <Link to={`/t/${tenant}/runs?tree=${t.name}`}>Runs of {t.name}</Link>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** "New tree": a name, then an empty editor whose first save creates the tree. */
function NewTree({ tenant, taken }: { tenant: string; taken: string[] }) {
  const navigate = useNavigate();
  const [name, setName] = useState("");
  const trimmed = name.trim();
  const problem =
    trimmed === ""
      ? null
      : !TREE_NAME_PATTERN.test(trimmed)
        ? "Use lowercase letters, digits, '.', '_' or '-' (starting with a letter or digit)."
        : taken.includes(trimmed)
          ? `A tree named ${trimmed} exists.`
          : null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (trimmed && !problem) navigate(`/t/${tenant}/trees/${trimmed}?new`);
  };
  return (
    <form className="row new-tree" onSubmit={submit} aria-label="New tree">
      <label htmlFor="new-tree-name">New tree name</label>
      <input
        id="new-tree-name"
        value={name}
        onChange={(e) => setName(e.target.value)}
        aria-invalid={problem ? true : undefined}
        aria-describedby={problem ? "new-tree-problem" : undefined}
      />
      <button type="submit" disabled={!trimmed || problem !== null}>
        New tree
      </button>
      {problem && (
        <small className="field-problem" id="new-tree-problem" role="status">
          {problem}
        </small>
      )}
    </form>
  );
}
