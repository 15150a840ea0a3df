// The tools registry: every tool and version the tenant knows, searchable, with schemas.
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { QueryStatus } from "../views/Problem";
import { TableHead } from "../views/TableHead";
import { searchTools } from "./registry";

export function useTools(tenant: string) {
  return useQuery({
    queryKey: ["tools", tenant],
    queryFn: () => unwrap(api.GET("/v1/tenants/{tenant_id}/tools", { params: { path: { tenant_id: tenant } } })),
  });
}

export function Tools() {
  const tenant = useParams().tenant!;
  const [search, setSearch] = useState("");
  const [allowedOnly, setAllowedOnly] = useState(true);
  const tools = useTools(tenant);
  const usable = (tools.data?.tools ?? []).filter((t) => t.allowed || !allowedOnly);
  const shown = searchTools(usable, search);
  return (
    <section>
      <h1>Tools</h1>
      <label htmlFor="tool-search">Search tools</label>
      <input id="tool-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
      <label className="row">
        <input type="checkbox" checked={allowedOnly} onChange={(e) => setAllowedOnly(e.target.checked)} />
        Only tools this tenant's runs may use
      </label>
      <QueryStatus query={tools} />
      {tools.data && <p role="status">{shown.length === 0 ? `No tools matching “${search}”.` : `${shown.length} tools`}</p>}
      <table className="table">
        <TableHead columns={["Tool", "Description", "Latest", "Versions", "Source", "Allowed here"]} />
        <tbody>
          {shown.map((t) => (
            <tr key={t.name}>
              <td>
                <Link to={`/t/${tenant}/tools/${t.name}`}>{t.name}</Link>
              </td>
              <td>{t.versions[0]?.description}</td>
              <td>{t.latest}</td>
              <td>{t.versions.map((v) => v.version + (v.deprecated ? " (deprecated)" : "")).join(", ")}</td>
              <td>{t.source === "tenant" ? "this tenant (HTTP)" : "platform"}</td>
              <td>{t.allowed ? "yes" : "no"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
