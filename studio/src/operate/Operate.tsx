// Operate: the tenant's schedules, API keys, members and secret names. Admins get the
// controls; everyone else reads what the API lets them read, or sees its problem.
import { NavLink, Navigate, Route, Routes, useParams } from "react-router-dom";
import { ApiKeys } from "./ApiKeys";
import { Members } from "./Members";
import { Schedules } from "./Schedules";
import { Secrets } from "./Secrets";

export function Operate() {
  const base = `/t/${useParams().tenant!}/operate`;
  return (
    <section>
      <h1>Operate</h1>
      <nav aria-label="Operate" className="operate-tabs">
        <NavLink to={`${base}/schedules`}>Schedules</NavLink>
        <NavLink to={`${base}/api-keys`}>API keys</NavLink>
        <NavLink to={`${base}/members`}>Members</NavLink>
        <NavLink to={`${base}/secrets`}>Secrets</NavLink>
      </nav>
      <Routes>
        <Route path="schedules" element={<Schedules />} />
        <Route path="api-keys" element={<ApiKeys />} />
        <Route path="members" element={<Members />} />
        <Route path="secrets" element={<Secrets />} />
        <Route path="*" element={<Navigate to={`${base}/schedules`} replace />} />
      </Routes>
    </section>
  );
}
