// Operate: the tenant's schedules, API keys, members and secret names. Admins get the
// controls; everyone else reads what the API lets them read, or sees its problem.
import { NavLink, Navigate, Route, Routes } from "react-router-dom";
import { ApiKeys } from "./ApiKeys";
import { Members } from "./Members";
import { Schedules } from "./Schedules";
import { Secrets } from "./Secrets";

export function Operate() {
  return (
    <section>
      <h1>Operate</h1>
      <nav aria-label="Operate" className="tabs">
        <NavLink to="schedules">Schedules</NavLink>
        <NavLink to="api-keys">API keys</NavLink>
        <NavLink to="members">Members</NavLink>
        <NavLink to="secrets">Secrets</NavLink>
      </nav>
      <Routes>
        <Route path="schedules" element={<Schedules />} />
        <Route path="api-keys" element={<ApiKeys />} />
        <Route path="members" element={<Members />} />
        <Route path="secrets" element={<Secrets />} />
        <Route path="*" element={<Navigate to="schedules" replace />} />
      </Routes>
    </section>
  );
}
