// A tree's versions: the list, publishing one, its rollout state and a diff of any two.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { useCanEdit } from "../session";
import { ProblemMessage } from "../views/Problem";
import { TableHead, Unseen } from "../views/TableHead";
import { VersionDiff } from "./VersionDiff";
import { rolloutSentence } from "./rollout";

function Rollout({ tenant, name }: { tenant: string; name: string }) {
  const rollout = useQuery({
    queryKey: ["rollout", tenant, name],
    queryFn: () =>
      unwrap(api.GET("/v1/tenants/{tenant_id}/trees/{name}/rollout", { params: { path: { tenant_id: tenant, name } } })),
  });
  return (
    <section className="card" aria-labelledby="rollout-heading">
      <h2 id="rollout-heading">Rollout</h2>
      <ProblemMessage error={rollout.error} />
      {rollout.data && (
        <>
          <p role="status">{rolloutSentence(rollout.data)}</p>
          <p className="hint">
            Flag <code>{rollout.data.flag}</code>
            {rollout.data.defined ? " is defined" : " is not defined"}
            {rollout.data.variant ? ` (variant ${rollout.data.variant})` : ""}. Flags are managed in Unleash; the
            Studio shows how they route runs that name no version.
          </p>
        </>
      )}
    </section>
  );
}

/** A labelled pick of one of the tree's version numbers. */
function VersionSelect(props: {
  id: string;
  label: string;
  numbers: number[];
  value: number;
  onChange: (version: number) => void;
}) {
  return (
    <>
      <label htmlFor={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(Number(e.target.value))}>
        {props.numbers.map((n) => (
          <option key={n} value={n}>
            v{n}
          </option>
        ))}
      </select>
    </>
  );
}

export function Versions() {
  const { tenant, name } = useParams() as { tenant: string; name: string };
  const canEdit = useCanEdit(tenant);
  const queryClient = useQueryClient();
  const path = { tenant_id: tenant, name };
  const tree = useQuery({
    queryKey: ["tree", tenant, name],
    queryFn: () => unwrap(api.GET("/v1/tenants/{tenant_id}/trees/{name}", { params: { path } })),
  });
  const versions = useQuery({
    queryKey: ["versions", tenant, name, tree.data?.latest_version],
    enabled: tree.data !== undefined,
    queryFn: () => unwrap(api.GET("/v1/tenants/{tenant_id}/trees/{name}/versions", { params: { path } })),
  });
  const latest = tree.data?.latest_version ?? 0;
  const [from, setFrom] = useState(0);
  const [to, setTo] = useState(0);
  useEffect(() => {
    if (latest > 0 && to === 0) {
      setTo(latest);
      setFrom(Math.max(1, latest - 1));
    }
  }, [latest, to]);
  const publish = useMutation({
    mutationFn: (version: number) =>
      unwrap(api.POST("/v1/tenants/{tenant_id}/trees/{name}/publish", { params: { path }, body: { version } })),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ["tree", tenant, name] });
      await queryClient.invalidateQueries({ queryKey: ["rollout", tenant, name] });
      await queryClient.invalidateQueries({ queryKey: ["trees", tenant] });
    },
  });

  if (tree.error) return <ProblemMessage error={tree.error} />;
  if (!tree.data) return <p>Loading…</p>;
  const published = tree.data.published_version;
  const numbers = (versions.data?.versions ?? []).map((v) => v.version);

  return (
    <section>
      <div className="row">
        <h1>Versions of {name}</h1>
        <Link to={`/t/${tenant}/trees/${name}`}>Open in the editor</Link>
        {!canEdit && <span className="badge">read-only</span>}
      </div>
      <ProblemMessage error={versions.error ?? publish.error} />
      {publish.isSuccess && <p role="status">Published version {publish.variables}.</p>}
      <Rollout tenant={tenant} name={name} />
      <table className="table versions">
        <caption className="sr-only">Versions of {name}</caption>
        <TableHead columns={["Version", "Meaning hash", "Saved by", "Saved", "State", <Unseen>Actions</Unseen>]} />
        <tbody>
          {[...(versions.data?.versions ?? [])].reverse().map((v) => (
            <tr key={v.version}>
              <th scope="row">v{v.version}</th>
              <td>
                <code title={v.hash}>{v.hash.slice(0, 12)}</code>
              </td>
              <td>{v.created_by}</td>
              <td>{new Date(v.created_at).toLocaleString()}</td>
              <td>
                {v.version === published && <span className="badge">published</span>}{" "}
                {v.version === latest && <span className="badge">latest</span>}
                {(v.warnings?.length ?? 0) > 0 && <span className="badge">{v.warnings?.length} warnings</span>}
              </td>
              <td>
                {canEdit && v.version !== published && (
                  <button type="button" disabled={publish.isPending} onClick={() => publish.mutate(v.version)}>
                    Publish v{v.version}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {numbers.length > 1 ? (
        <section className="compare" aria-labelledby="diff-heading">
          <h2 id="diff-heading">Compare versions</h2>
          <div className="row diff-pick">
            <VersionSelect id="diff-from" label="From" numbers={numbers} value={from} onChange={setFrom} />
            <VersionSelect id="diff-to" label="To" numbers={numbers} value={to} onChange={setTo} />
          </div>
          {from > 0 && to > 0 && from !== to ? (
            <VersionDiff tenant={tenant} name={name} from={from} to={to} />
          ) : (
            <p>Choose two different versions.</p>
          )}
        </section>
      ) : (
        <p>Only one version so far: save a change in the editor to compare.</p>
      )}
    </section>
  );
}
