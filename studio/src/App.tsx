// Routes of the Studio; everything but sign-in needs a token.
import { lazy, Suspense } from "react";
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
      <Route path="/" element={<Page><Tenants /></Page>} />
      <Route path="/t/:tenant/trees" element={<Page><Trees /></Page>} />
      <Route path="/t/:tenant/templates" element={<Page><Templates /></Page>} />
      <Route path="/t/:tenant/trees/:name" element={<Page><Editor /></Page>} />
      <Route path="/t/:tenant/trees/:name/run" element={<Page><StartRun /></Page>} />
      <Route path="/t/:tenant/runs" element={<Page><RunsList /></Page>} />
      <Route path="/t/:tenant/runs/:key" element={<Page><RunView /></Page>} />
      <Route path="/t/:tenant/trees/:name/versions" element={<Page><Versions /></Page>} />
      <Route path="/t/:tenant/tools" element={<Page><Tools /></Page>} />
      <Route path="/t/:tenant/tools/:name" element={<Page><ToolDetail /></Page>} />
      <Route path="/t/:tenant/chat" element={<Page><ChatHome /></Page>} />
      <Route path="/t/:tenant/chat/:conversation" element={<Page><ChatView /></Page>} />
      <Route path="/t/:tenant/operate/*" element={<Page><Operate /></Page>} />
      <Route path="*" element={<Navigate to="/" replace />} />
    </Routes>
  );
}
