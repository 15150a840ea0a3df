// The tree editor: canvas, palette, inspector, YAML view and the live checklist, all
// editing one YAML text (the source of truth); save as a new version and publish.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { ApiProblem, api, unwrap } from "../api/client";
import { useCanEdit } from "../session";
import { checklistOf, problemsByNode, type ChecklistItem } from "../tree/checklist";
import { treeToGraph } from "../tree/graph";
import { record, redo, startHistory, undo, type History } from "../tree/history";
import { KIND_DESCRIPTIONS, NODE_KINDS, type NodeKind } from "../tree/model";
import { paletteTools, type ToolLike } from "../tree/tools";
import { addNode, connect, deleteNode, freeId, newNode, parseTree, setNodeField, setTreeField } from "../tree/yamlText";
import { ProblemMessage } from "../views/Problem";
import { Inspector } from "./Inspector";
import { TreeCanvas } from "./TreeCanvas";
import { YamlEditor } from "./YamlEditor";

export const CHECK_DEBOUNCE_MS = 300;

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

/** Problems of a source from the compile endpoint: [] when it compiles. */
function useChecklist(tenant: string, source: string | null) {
  const debounced = useDebounced(source, CHECK_DEBOUNCE_MS);
  return useQuery({
    queryKey: ["compile", tenant, debounced],
    enabled: debounced !== null,
    placeholderData: (previous) => previous,
    queryFn: async () => {
      try {
        await unwrap(api.POST("/v1/tenants/{tenant_id}/trees/compile", { params: { path: { tenant_id: tenant } }, body: { source: debounced! } }));
        return [];
      } catch (error) {
        if (error instanceof ApiProblem && error.status === 422) return error.errors;
        throw error;
      }
    },
  });
}

export function Editor() {
  const { tenant, name } = useParams() as { tenant: string; name: string };
  const canEdit = useCanEdit(tenant);
  const queryClient = useQueryClient();
  const tree = useQuery({
    queryKey: ["tree", tenant, name],
    queryFn: () => unwrap(api.GET("/v1/tenants/{tenant_id}/trees/{name}", { params: { path: { tenant_id: tenant, name } } })),
  });
  const latest = tree.data?.latest_version;
  const version = useQuery({
    queryKey: ["version", tenant, name, latest],
    enabled: latest !== undefined,
    queryFn: () =>
      unwrap(api.GET("/v1/tenants/{tenant_id}/trees/{name}/versions/{version}", { params: { path: { tenant_id: tenant, name, version: latest! } } })),
  });
  const tools = useQuery({
    queryKey: ["tools", tenant],
    queryFn: () => unwrap(api.GET("/v1/tenants/{tenant_id}/tools", { params: { path: { tenant_id: tenant } } })),
  });
  const [history, setHistory] = useState<History | null>(null);
  const text = history?.present ?? null;
  const setText = (next: string) => setHistory((h) => (h ? record(h, next) : startHistory(next)));
  const [selected, setSelected] = useState<string | null>(null);
  const [editError, setEditError] = useState<unknown>(null);
  const [view, setView] = useState<"canvas" | "yaml">("canvas");
  useEffect(() => {
    if (history === null && version.data?.source) setHistory(startHistory(version.data.source));
  }, [version.data, history]);
  // Ctrl+Z / Ctrl+Shift+Z outside text fields (CodeMirror and inputs keep their own undo).
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (!(event.ctrlKey || event.metaKey) || event.key.toLowerCase() !== "z") return;
      if (target?.closest("input, textarea, select, .cm-editor")) return;
      event.preventDefault();
      setHistory((h) => h && (event.shiftKey ? redo(h) : undo(h)));
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const parsed = useMemo(() => (text === null ? null : parseTree(text)), [text]);
  const graph = useMemo(() => (parsed?.tree ? treeToGraph(parsed.tree) : null), [parsed]);
  const check = useChecklist(tenant, text);
  const items: ChecklistItem[] = useMemo(
    () => checklistOf(check.data ?? [], Object.keys(parsed?.tree?.nodes ?? {})),
    [check.data, parsed],
  );
  const byNode = problemsByNode(items);
  const toolList = (tools.data?.tools ?? []) as ToolLike[];
  const dirty = text !== null && text !== version.data?.source;

  const apply = (change: (current: string) => string) => {
    if (text === null) return;
    try {
      setText(change(text));
      setEditError(null);
    } catch (error) {
      setEditError(error);
    }
  };
  const add = (kind: NodeKind, tool?: string) => {
    const id = freeId(parsed?.tree ?? null, tool ? tool.split("@")[0]! : kind);
    apply((t) => addNode(t, id, newNode(kind, tool)));
    setSelected(id);
  };

  const save = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/v1/tenants/{tenant_id}/trees/{name}/versions", { params: { path: { tenant_id: tenant, name } }, body: { source: text! } })),
    onSuccess: async (saved) => {
      queryClient.setQueryData(["version", tenant, name, saved.version], { ...saved, source: text });
      await queryClient.invalidateQueries({ queryKey: ["tree", tenant, name] });
    },
  });
  const publish = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/v1/tenants/{tenant_id}/trees/{name}/publish", { params: { path: { tenant_id: tenant, name } }, body: { version: latest! } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["tree", tenant, name] }),
  });

  if (tree.error || version.error) return <ProblemMessage error={tree.error ?? version.error} />;
  if (text === null || !tree.data) return <p>Loading…</p>;
  const published = tree.data.published_version;
  const checking = check.isFetching;

  return (
    <div className="editor">
      <div className="row toolbar">
        <h1>{name}</h1>
        <span className="badge">
          v{latest}
          {published ? ` · published v${published}` : " · unpublished"}
        </span>
        {!canEdit && <span className="badge">read-only</span>}
        <Link to={`/t/${tenant}/trees/${name}/versions`}>Versions</Link>
        <div className="tabs" role="group" aria-label="View">
          <button type="button" aria-pressed={view === "canvas"} onClick={() => setView("canvas")}>Canvas</button>
          <button type="button" aria-pressed={view === "yaml"} onClick={() => setView("yaml")}>YAML</button>
        </div>
        {canEdit && (
          <>
            <button type="button" disabled={!history?.past.length} onClick={() => setHistory((h) => h && undo(h))}>
              Undo
            </button>
            <button type="button" disabled={!history?.future.length} onClick={() => setHistory((h) => h && redo(h))}>
              Redo
            </button>
            <button type="button" disabled={!dirty || save.isPending || items.length > 0} onClick={() => save.mutate()}>
              Save as new version
            </button>
            <button type="button" disabled={dirty || publish.isPending || published === latest} onClick={() => publish.mutate()}>
              Publish v{latest}
            </button>
            <Link className="button" to={`/t/${tenant}/trees/${name}/run`}>Run</Link>
          </>
        )}
      </div>
      <ProblemMessage error={save.error ?? publish.error ?? editError} />
      {save.isSuccess && !dirty && <p role="status">Saved version {save.data.version}.</p>}
      {publish.isSuccess && <p role="status">Published version {published}.</p>}
      <div className={canEdit ? "editor-body" : "editor-body no-palette"}>
        {canEdit && (
          <aside className="palette" aria-label="Palette">
            <h2>Add a node</h2>
            <ul>
              {NODE_KINDS.filter((k) => k !== "tool").map((kind) => (
                <li key={kind}>
                  <button type="button" title={KIND_DESCRIPTIONS[kind]} onClick={() => add(kind)}>
                    + {kind}
                  </button>
                </li>
              ))}
            </ul>
            <h2>Tools</h2>
            <ul>
              {paletteTools(toolList).map((entry) => (
                <li key={entry.label}>
                  <button type="button" title={entry.description} onClick={() => add("tool", entry.constraint)}>
                    + {entry.label}
                  </button>
                </li>
              ))}
            </ul>
          </aside>
        )}
        <div className="work">
          {parsed?.error && <div role="alert" className="problem">YAML: {parsed.error}</div>}
          {view === "canvas" && graph && (
            <TreeCanvas
              graph={graph}
              problems={byNode}
              selected={selected}
              onSelect={setSelected}
              editable={canEdit}
              onConnect={(source, target) => apply((t) => connect(t, source, target))}
            />
          )}
          {view === "yaml" && <YamlEditor value={text} onChange={setText} readOnly={!canEdit} />}
        </div>
        <aside className="side" aria-label="Inspector and checklist">
          <section className="checklist" aria-labelledby="checklist-title">
            <h2 id="checklist-title">
              Checklist {checking ? "(checking…)" : items.length === 0 ? "✓ compiles" : `(${items.length})`}
            </h2>
            <ProblemMessage error={check.error} />
            <ul>
              {items.map((item, index) => (
                <li key={index}>
                  {item.nodeId ? (
                    <button type="button" className="link" onClick={() => setSelected(item.nodeId)}>
                      {item.nodeId}
                      {item.field ? `.${item.field}` : ""}
                    </button>
                  ) : (
                    <code>{item.field || "tree"}</code>
                  )}
                  : {item.message}
                </li>
              ))}
            </ul>
          </section>
          <div className="field">
            <label htmlFor="node-picker">Inspect node</label>
            <select id="node-picker" value={selected ?? ""} onChange={(e) => setSelected(e.target.value || null)}>
              <option value="">—</option>
              {Object.keys(parsed?.tree?.nodes ?? {}).map((id) => (
                <option key={id} value={id}>{id}</option>
              ))}
            </select>
          </div>
          {selected && parsed?.tree?.nodes[selected] ? (
            <Inspector
              key={selected}
              tree={parsed.tree}
              nodeId={selected}
              tools={toolList}
              problems={byNode.get(selected) ?? []}
              readOnly={!canEdit}
              setField={(path, value) => apply((t) => setNodeField(t, selected, path, value))}
              connect={(target) => apply((t) => connect(t, selected, target))}
              remove={() => {
                apply((t) => deleteNode(t, selected));
                setSelected(null);
              }}
              makeStart={() => apply((t) => setTreeField(t, "start", selected))}
            />
          ) : (
            <p className="hint">Select a node to inspect it.</p>
          )}
        </aside>
      </div>
    </div>
  );
}
