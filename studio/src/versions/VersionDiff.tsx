// Two versions compared: the meaning diff from the API and a line diff of their YAML.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { ProblemMessage } from "../views/Problem";
import { TableHead, Unseen } from "../views/TableHead";
import { changeSummary, meaningChanges, type ChangeKind } from "./changes";

const KIND_LABEL: Record<ChangeKind, string> = {
  added: "Added",
  removed: "Removed",
  changed: "Changed",
  repinned: "Tool version",
};

interface Props {
  tenant: string;
  name: string;
  from: number;
  to: number;
}

function useSource(tenant: string, name: string, version: number) {
  return useQuery({
    queryKey: ["version", tenant, name, version],
    queryFn: () =>
      unwrap(
        api.GET("/v1/tenants/{tenant_id}/trees/{name}/versions/{version}", {
          params: { path: { tenant_id: tenant, name, version } },
        }),
      ),
  });
}

function TextDiff({ older, newer, from, to }: { older: string; newer: string; from: number; to: number }) {
  // jsdiff loads with the first diff shown, not with the Studio.
  const module = useQuery({ queryKey: ["text-diff-module"], queryFn: () => import("./textDiff"), staleTime: Infinity });
  if (!module.data) return <p>Loading the text diff…</p>;
  const rows = module.data.withContext(module.data.textDiff(older, newer));
  return (
    <table className="text-diff">
      <caption>
        YAML of v{from} → v{to}
      </caption>
      <TableHead columns={[`v${from}`, `v${to}`, <Unseen>Line</Unseen>]} />
      <tbody>
        {rows.map((row, i) =>
          row === null ? (
            <tr key={i} className="gap">
              <td colSpan={3}>…</td>
            </tr>
          ) : (
            <tr key={i} className={`line-${row.kind}`}>
              <td>{row.oldLine ?? ""}</td>
              <td>{row.newLine ?? ""}</td>
              <td>
                <span className="sr-only">{row.kind === "same" ? "" : `${row.kind}: `}</span>
                <code>
                  {row.kind === "added" ? "+ " : row.kind === "removed" ? "- " : "  "}
                  {row.text}
                </code>
              </td>
            </tr>
          ),
        )}
      </tbody>
    </table>
  );
}

export function VersionDiff({ tenant, name, from, to }: Props) {
  const diff = useQuery({
    queryKey: ["diff", tenant, name, from, to],
    queryFn: () =>
      unwrap(
        api.GET("/v1/tenants/{tenant_id}/trees/{name}/diff", {
          params: { path: { tenant_id: tenant, name }, query: { from, to } },
        }),
      ),
  });
  const older = useSource(tenant, name, from);
  const newer = useSource(tenant, name, to);
  const error = diff.error ?? older.error ?? newer.error;
  if (error) return <ProblemMessage error={error} />;
  if (!diff.data) return <p>Loading the diff…</p>;
  const changes = meaningChanges(diff.data);
  return (
    <div className="version-diff">
      <h3>Meaning</h3>
      <p>{changeSummary(diff.data)}</p>
      {changes.length > 0 && (
        <ul className="list meaning-changes" aria-label="Node changes">
          {changes.map((c) => (
            <li key={c.kind + c.node} className={`change-${c.kind}`}>
              <span className="badge">{KIND_LABEL[c.kind]}</span> <code>{c.node}</code>
              {c.detail && <> {c.detail}</>}
            </li>
          ))}
        </ul>
      )}
      <h3>Text</h3>
      {older.data?.source != null && newer.data?.source != null ? (
        <TextDiff older={older.data.source} newer={newer.data.source} from={from} to={to} />
      ) : (
        <p>Loading the sources…</p>
      )}
    </div>
  );
}
