// Routes of the Studio; everything but sign-in needs a token.
import { lazy, Suspense, type ComponentType } from "react";
import { Link, Navigate, Route, Routes, useParams } from "react-router-dom";
import { useSession } from "./session";
import { SignIn } from "./views/SignIn";
import { OidcCallback } from "./operate/OidcCallback";
import { Tenants } from "./views/Tenants";
import { Trees } from "./views/Trees";
import { Templates } from "./views/Templates";
import { StartRun } from "./views/StartRun";

// The canvas, ELK and CodeMirror load with the first view that needs them.
const Editor = lazy(() => import("./editor/Editor").then((m) => ({ default: m.Editor })));
const RunView = lazy(() => import("./views/RunView").then((m) => ({ default: m.RunView })));
// versions: the diff library loads with the versions view; the tools registry with its own.
const Versions = lazy(() => import("./versions/Versions").then((m) => ({ default: m.Versions })));
const Tools = lazy(() => import("./tools/Tools").then((m) => ({ default: m.Tools })));
const ToolDetail = lazy(() => import("./tools/ToolDetail").then((m) => ({ default: m.ToolDetail })));
const RunsList = lazy(() => import("./runs/RunsList").then((m) => ({ default: m.RunsList })));
// chat: its own chunk
const ChatHome = lazy(() => import("./chat/Chat").then((m) => ({ default: m.ChatHome })));
const ChatView = lazy(() => import("./chat/Chat").then((m) => ({ default: m.ChatView })));
// operate: schedules, API keys, members and secret names (admins administer; others read).
const Operate = lazy(() => import("./operate/Operate").then((m) => ({ default: m.Operate })));

// Every signed-in page: its path and the view shown inside the shared Page frame.
const PAGES: [string, ComponentType][] = [
  ["/", Tenants],
  ["/t/:tenant/trees", Trees],
  ["/t/:tenant/templates", Templates],
  ["/t/:tenant/trees/:name", Editor],
  ["/t/:tenant/trees/:name/run", StartRun],
  ["/t/:tenant/runs", RunsList],
  ["/t/:tenant/runs/:key", RunView],
  ["/t/:tenant/trees/:name/versions", Versions],
  ["/t/:tenant/tools", Tools],
  ["/t/:tenant/tools/:name", ToolDetail],
  ["/t/:tenant/chat", ChatHome],
  ["/t/:tenant/chat/:conversation", ChatView],
  ["/t/:tenant/operate/*", Operate],
];

function Header() {
  const { me, signOut } = useSession();
  const { tenant } = useParams();
  return (
    <header className="top">
      <Link to="/" className="brand">
        Treeflow Studio
      </Link>
      {tenant && (
        <nav aria-label="Tenant">
          <Link to={`/t/${tenant}/trees`}>Trees</Link>
          <Link to={`/t/${tenant}/templates`}>Templates</Link>
          <Link to={`/t/${tenant}/tools`}>Tools</Link>
          <Link to={`/t/${tenant}/runs`}>Runs</Link>
          <Link to={`/t/${tenant}/chat`}>Chat</Link>
          <Link to={`/t/${tenant}/operate`}>Operate</Link>
          <Link to="/">Switch tenant</Link>
        </nav>
      )}
      <span className="who">{me?.display_name ?? me?.subject}</span>
      <button type="button" onClick={signOut}>
        Sign out
      </button>
    </header>
  );
}

function Page({ children }: { children: React.ReactNode }) {
  return (
    <>
      <Header />
      <main>
        <Suspense fallback={<p>Loading…</p>}>{children}</Suspense>
      </main>
    </>
  );
}

export function App() {
  const { token } = useSession();
  if (token === null) {
    return (
      <main>
        <Routes>
          <Route path="/auth/callback/:provider" element={<OidcCallback />} />
          <Route path="*" element={<SignIn />} />
        </Routes>
      </main>
    );
  }
  return (
    <Routes>
      {PAGES.map(([path, View]) => (
        <Route key={path} path={path} element={<Page><View /></Page>} />
      ))}
      <Route path="*" element={<Navigate to="/" replace />} />
    </Routes>
  );
}
