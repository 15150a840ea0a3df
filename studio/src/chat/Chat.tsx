// The chat with a conversation tree: pick a tree and ask (ChatHome), then talk to it
// (ChatView): messages, each answer streaming in step by step, its citations (opening
// the cited object), charts, the path the turn took, and follow-ups until it is ended.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { ChartsIn } from "../charts/ChartView";
import { ProblemMessage } from "../views/Problem";
import { answerParts, type CitedObject } from "./citations";
import { answerText, answeringTurn, knownConversations, rememberConversation, withSent } from "./messages";
import { pathOf } from "./progress";
import { useTurnDetails } from "./useTurnDetails";
import { useTurnStream } from "./useTurnStream";

type Message = Schemas["MessageOut"];
const MESSAGES_POLL_MS = 1000;

function Composer(props: { disabled: boolean; busy: boolean; placeholder: string; onSend: (text: string) => void }) {
  const [text, setText] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!text.trim() || props.disabled) return;
    props.onSend(text.trim());
    setText("");
  };
  return (
    <form className="chat-composer" onSubmit={submit}>
      <label htmlFor="chat-message">Message</label>
      <textarea
        id="chat-message"
        value={text}
        rows={2}
        maxLength={4000}
        placeholder={props.placeholder}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey) submit(e);
        }}
      />
      <button type="submit" disabled={props.disabled || !text.trim()}>
        {props.busy ? "Answering…" : "Send"}
      </button>
    </form>
  );
}

function PathLine({ path }: { path: string[] }) {
  if (path.length === 0) return null;
  return (
    <p className="chat-path" data-testid="turn-path">
      <span className="chat-label">Path:</span> {path.map((node, i) => <span key={i}>{i > 0 && " → "}<code>{node}</code></span>)}
    </p>
  );
}

/** A turn being answered: the steps as they happen, then the output as it lands. */
function LiveTurn({ tenant, message }: { tenant: string; message: Message }) {
  const progress = useTurnStream(tenant, message.run, true);
  const output = progress.output ? answerText(progress.output) : "";
  return (
    <div className="chat-answer live" aria-live="polite" aria-busy="true">
      <ol className="chat-steps" aria-label={`Steps of turn ${message.turn}`}>
        {progress.steps.map((s) => (
          <li key={s.id} className={`step-${s.outcome}`}>
            <code>{s.node}</code> {s.outcome === "running" ? "…" : s.outcome === "failed" ? `failed: ${s.error ?? ""}` : "done"}
            {s.choice && <> → {s.choice}</>}
            {s.reasoning && <span className="chat-reason"> ({s.reasoning})</span>}
            {s.waitingFor !== null && (
              <>
                {" "}
                waits for input: “{s.waitingFor}” (<Link to={`/t/${tenant}/runs/${message.run}`}>answer it in the run</Link>)
              </>
            )}
          </li>
        ))}
      </ol>
      {output ? <p>{output}</p> : <p className="chat-thinking">Answering…</p>}
      <PathLine path={pathOf(progress)} />
    </div>
  );
}

function AnswerText({ text, citations, onOpen }: { text: string; citations: CitedObject[]; onOpen: (c: CitedObject) => void }) {
  return (
    <p className="chat-text">
      {answerParts(text).map((part, i) => {
        if ("text" in part) return <span key={i}>{part.text}</span>;
        const cited = citations.find((c) => c.number === part.cite);
        return cited ? (
          <button key={i} type="button" className="chat-cite" aria-label={`Citation ${part.cite}: ${cited.title}`} onClick={() => onOpen(cited)}>
            [{part.cite}]
          </button>
        ) : (
          <span key={i}>[{part.cite}]</span>
        );
      })}
    </p>
  );
}

/** A finished turn: the answer, its citations and charts, the path it took. */
function DoneTurn({ tenant, message, onOpen }: { tenant: string; message: Message; onOpen: (c: CitedObject) => void }) {
  const details = useTurnDetails(tenant, message.run, message.status !== "answering");
  const citations = details.data?.citations ?? [];
  if (message.status === "failed") {
    return (
      <div className="chat-answer failed" role="alert">
        Turn {message.turn} failed: {message.error}
        <PathLine path={message.path ?? []} />
      </div>
    );
  }
  return (
    <div className="chat-answer">
      <AnswerText text={answerText(message.answer)} citations={citations} onOpen={onOpen} />
      {details.data && <ChartsIn value={details.data.charts} />}
      {citations.length > 0 && (
        <div className="chat-citations">
          <span className="chat-label">{citations.some((c) => c.number !== null) ? "Cited" : "Found"}:</span>
          <ul>
            {citations.map((c) => (
              <li key={c.ref}>
                <button type="button" className="link" onClick={() => onOpen(c)}>
                  {c.number !== null && `[${c.number}] `}
                  {c.title}
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
      <ProblemMessage error={details.error} />
      <PathLine path={message.path ?? []} />
      <p className="chat-meta">
        <Link to={`/t/${tenant}/runs/${message.run}`}>Run {message.run}</Link>
      </p>
    </div>
  );
}

function ObjectPanel({ object, onClose }: { object: CitedObject; onClose: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [object]);
  return (
    <aside className="chat-object" aria-labelledby="chat-object-title">
      <div className="row">
        <h2 id="chat-object-title" tabIndex={-1} ref={heading}>
          {object.number !== null && `[${object.number}] `}
          {object.title}
        </h2>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      <p className="chat-meta">
        From <code>{object.node}</code> · ref <code>{object.ref}</code>
      </p>
      <dl>
        {Object.entries(object.properties).map(([key, value]) => (
          <div key={key}>
            <dt>{key}</dt>
            <dd>{typeof value === "string" ? value : JSON.stringify(value)}</dd>
          </div>
        ))}
      </dl>
    </aside>
  );
}

/** The tenant's conversations (newest first), labelled with their first message when
 * this tab sent it; each opens to resume. */
function ConversationList({ tenant, current }: { tenant: string; current?: string }) {
  const listed = useQuery({
    queryKey: ["conversations", tenant],
    queryFn: () => unwrap(api.GET("/v1/tenants/{tenant_id}/conversations", { params: { path: { tenant_id: tenant }, query: { limit: 30 } } })),
  });
  const titles = new Map(knownConversations(sessionStorage, tenant).map((c) => [c.id, c.title]));
  const conversations = listed.data?.conversations ?? [];
  return (
    <nav className="chat-known" aria-label="Conversations">
      <h2>Conversations</h2>
      <ProblemMessage error={listed.error} />
      {listed.data && conversations.length === 0 && <p>None yet.</p>}
      <ul className="list">
        {conversations.map((c) => (
          <li key={c.id}>
            <Link to={`/t/${tenant}/chat/${c.id}`} aria-current={c.id === current ? "page" : undefined}>
              {titles.get(c.id) ?? c.id}
            </Link>{" "}
            <span className="chat-meta">
              {c.tree} · {c.status}
              {c.started_at && ` · ${new Date(c.started_at).toLocaleString()}`}
            </span>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** Choose a tree and send the first message (the conversation starts with it). */
export function ChatHome() {
  const tenant = useParams().tenant!;
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const trees = useQuery({
    queryKey: ["trees", tenant],
    queryFn: () => unwrap(api.GET("/v1/tenants/{tenant_id}/trees", { params: { path: { tenant_id: tenant } } })),
  });
  const [tree, setTree] = useState("");
  const names = (trees.data?.trees ?? []).map((t) => t.name);
  const chosen = tree || (names.includes("ticket-agent") ? "ticket-agent" : (names[0] ?? ""));
  const start = useMutation({
    mutationFn: (text: string) =>
      unwrap(
        api.POST("/v1/tenants/{tenant_id}/conversations", {
          params: { path: { tenant_id: tenant }, query: { wait: false } },
          body: { tree: chosen, message: text },
        }),
      ),
    onSuccess: (created, text) => {
      rememberConversation(sessionStorage, tenant, { id: created.id, tree: created.tree.name, title: text, started: new Date().toISOString() });
      void queryClient.invalidateQueries({ queryKey: ["conversations", tenant] });
      navigate(`/t/${tenant}/chat/${created.id}`);
    },
  });
  return (
    <section className="chat-page">
      <div className="chat-main">
        <h1>Chat</h1>
        <p>Ask a conversation tree (one that takes a single text input) a question; follow-ups see the earlier turns.</p>
        <label htmlFor="chat-tree">Tree</label>
        <select id="chat-tree" value={chosen} onChange={(e) => setTree(e.target.value)}>
          {names.map((n) => (
            <option key={n}>{n}</option>
          ))}
        </select>
        <ProblemMessage error={trees.error ?? start.error} />
        <Composer disabled={!chosen || start.isPending} busy={start.isPending} placeholder="Ask a question…" onSend={(t) => start.mutate(t)} />
      </div>
      <ConversationList tenant={tenant} />
    </section>
  );
}

/** One conversation: its messages, answers as they stream, a composer for follow-ups. */
export function ChatView() {
  const tenant = useParams().tenant!;
  const id = useParams().conversation!;
  const client = useQueryClient();
  const path = { tenant_id: tenant, conversation_id: id };
  const [sent, setSent] = useState<Message | null>(null);
  const [open, setOpen] = useState<CitedObject | null>(null);
  const conversation = useQuery({
    queryKey: ["conversation", tenant, id],
    queryFn: () => unwrap(api.GET("/v1/tenants/{tenant_id}/conversations/{conversation_id}", { params: { path } })),
  });
  const messages = useQuery({
    queryKey: ["conversation-messages", tenant, id],
    queryFn: () => unwrap(api.GET("/v1/tenants/{tenant_id}/conversations/{conversation_id}/messages", { params: { path } })),
    refetchInterval: (q) => (q.state.data && !answeringTurn(withSent(q.state.data.messages, sent)) ? false : MESSAGES_POLL_MS),
  });
  const shown = withSent(messages.data?.messages ?? [], sent);
  const answering = answeringTurn(shown);
  const send = useMutation({
    mutationFn: (text: string) =>
      unwrap(
        api.POST("/v1/tenants/{tenant_id}/conversations/{conversation_id}/messages", {
          params: { path, query: { wait: false } },
          body: { text },
        }),
      ),
    onSuccess: (message) => {
      setSent(message);
      void client.invalidateQueries({ queryKey: ["conversation-messages", tenant, id] });
    },
    // 409 turn-in-progress (sent from elsewhere) or conversation-ended: show the turn that runs
    onError: () => {
      void client.invalidateQueries({ queryKey: ["conversation-messages", tenant, id] });
      void client.invalidateQueries({ queryKey: ["conversation", tenant, id] });
    },
  });
  const end = useMutation({
    mutationFn: () => unwrap(api.POST("/v1/tenants/{tenant_id}/conversations/{conversation_id}/end", { params: { path } })),
    onSuccess: (ended) => {
      client.setQueryData(["conversation", tenant, id], ended);
      void client.invalidateQueries({ queryKey: ["conversations", tenant] });
    },
  });
  const ended = conversation.data?.status === "ended";
  return (
    <section className="chat-page">
      <div className="chat-main">
        <div className="row">
          <h1>Chat with {conversation.data?.tree.name ?? "…"}</h1>
          <span className="chat-meta">
            {id} · v{conversation.data?.tree.version} · {ended ? "ended" : answering ? "answering" : "idle"}
          </span>
          {!ended && (
            <button type="button" onClick={() => end.mutate()} disabled={end.isPending}>
              End conversation
            </button>
          )}
        </div>
        <ProblemMessage error={conversation.error ?? messages.error ?? end.error} />
        <ol className="chat-messages" aria-label="Messages">
          {shown.map((m) => (
            <li key={m.turn} className="chat-turn" data-testid={`turn-${m.turn}`}>
              <div className="chat-question">
                <span className="sr-only">You: </span>
                {m.text}
              </div>
              {m.status === "answering" ? (
                <LiveTurn tenant={tenant} message={m} />
              ) : (
                <DoneTurn tenant={tenant} message={m} onOpen={setOpen} />
              )}
            </li>
          ))}
        </ol>
        <ProblemMessage error={send.error} />
        {ended ? (
          <p>
            This conversation has ended. <Link to={`/t/${tenant}/chat`}>Start a new one</Link>.
          </p>
        ) : (
          <Composer
            disabled={answering !== null || send.isPending}
            busy={answering !== null || send.isPending}
            placeholder={shown.length ? "Ask a follow-up…" : "Ask a question…"}
            onSend={(t) => send.mutate(t)}
          />
        )}
      </div>
      {open ? <ObjectPanel object={open} onClose={() => setOpen(null)} /> : <ConversationList tenant={tenant} current={id} />}
    </section>
  );
}
