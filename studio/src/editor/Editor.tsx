// The tree editor: canvas, palette, inspector, YAML view and the live checklist, all
// editing one YAML text (the source of truth); save as a new version and publish.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { Link, useLocation, useNavigate, useParams, useSearchParams } from "react-router-dom";
import { ApiProblem, api, unwrap } from "../api/client";
import { useCanEdit } from "../session";
import { checklistOf, problemsByNode, type ChecklistItem } from "../tree/checklist";
import { treeToGraph } from "../tree/graph";
import { record, redo, startHistory, undo, type History } from "../tree/history";
import { copyNodes, pasteNodes, readClip } from "../tree/clipboard";
import { asPaletteItem, type PaletteItem, type ToolLike } from "../tree/tools";
import { addNode, connect, deleteNode, freeId, newNode, newTreeText, parseTree, setNodeField, setTreeField } from "../tree/yamlText";
import { ProblemMessage } from "../views/Problem";
import { readClipboard, writeClipboard } from "./clipboardIo";
import { Inspector } from "./Inspector";
import { Palette, PALETTE_MIME } from "./Palette";
import { ShortcutList, useShortcuts, type ShortcutAction } from "./Shortcuts";
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

/** One editor per tree: opening another tree starts a fresh history. */
export function Editor() {
  const { tenant, name } = useParams() as { tenant: string; name: string };
  return <TreeEditor key={`${tenant}/${name}`} tenant={tenant} name={name} />;
}

function TreeEditor({ tenant, name }: { tenant: string; name: string }) {
  const created = (useLocation().state as { created?: number } | null)?.created;
  // `?new`: a tree not stored yet (from "New tree"); the first save creates it.
  const isNew = useSearchParams()[0].has("new");
  const navigate = useNavigate();
  const canEdit = useCanEdit(tenant);
  const queryClient = useQueryClient();
  const tree = useQuery({
    queryKey: ["tree", tenant, name],
    enabled: !isNew,
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
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    if (history !== null) return;
    if (isNew) setHistory(startHistory(newTreeText(name)));
    else if (version.data?.source) setHistory(startHistory(version.data.source));
  }, [version.data, history, isNew, name]);

  const parsed = useMemo(() => (text === null ? null : parseTree(text)), [text]);
  const graph = useMemo(() => (parsed?.tree ? treeToGraph(parsed.tree) : null), [parsed]);
  const check = useChecklist(tenant, text);
  const items: ChecklistItem[] = useMemo(
    () => checklistOf(check.data ?? [], Object.keys(parsed?.tree?.nodes ?? {})),
    [check.data, parsed],
  );
  const byNode = problemsByNode(items);
  const toolList = (tools.data?.tools ?? []) as ToolLike[];
  const dirty = text !== null && (isNew || text !== version.data?.source);

  const apply = (change: (current: string) => string) => {
    if (text === null) return;
    try {
      setText(change(text));
      setEditError(null);
    } catch (error) {
      setEditError(error);
    }
  };
  /** Add a palette entry's node; dropped on a node, connect that node to it too. */
  const add = ({ kind, tool }: PaletteItem, from: string | null = null) => {
    const id = freeId(parsed?.tree ?? null, tool ? tool.split("@")[0]! : kind);
    apply((t) => {
      const added = addNode(t, id, newNode(kind, tool));
      return from ? connect(added, from, id) : added;
    });
    setSelected(id);
    setNotice(from ? `Added ${id} after ${from}.` : `Added ${id}.`);
  };
  const copy = async () => {
    if (text === null || !selected) return;
    try {
      await writeClipboard(copyNodes(text, [selected]));
      setNotice(`Copied ${selected} as YAML.`);
    } catch (error) {
      setEditError(error);
    }
  };
  const paste = async () => {
    const clip = await readClipboard((t) => readClip(t) !== null);
    let ids: string[] = [];
    apply((t) => {
      const pasted = pasteNodes(t, clip);
      ids = pasted.ids;
      return pasted.text;
    });
    if (ids[0]) {
      setSelected(ids[0]);
      setNotice(`Pasted ${ids.join(", ")}.`);
    }
  };
  const remove = (id: string) => {
    apply((t) => deleteNode(t, id));
    setSelected(null);
    setNotice(`Deleted ${id}.`);
  };
  useShortcuts((action: ShortcutAction) => {
    if (!canEdit && action !== "copy") return false;
    switch (action) {
      case "copy":
        if (!selected || window.getSelection()?.toString()) return false;
        void copy();
        return true;
      case "paste":
        void paste();
        return true;
      case "undo":
      case "redo":
        setHistory((h) => h && (action === "redo" ? redo(h) : undo(h)));
        return true;
      case "delete":
        if (!selected) return false;
        remove(selected);
        return true;
    }
  });

  // A new tree's first save creates it (version 1) and opens it under its name.
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/v1/tenants/{tenant_id}/trees", { params: { path: { tenant_id: tenant } }, body: { source: text! } })),
    onSuccess: async (created) => {
      queryClient.setQueryData(["version", tenant, created.tree.name, created.version.version], { ...created.version, source: text });
      await queryClient.invalidateQueries({ queryKey: ["trees", tenant] });
      navigate(`/t/${tenant}/trees/${created.tree.name}`, { replace: true, state: { created: created.version.version } });
    },
  });
  const save = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/v1/tenants/{tenant_id}/trees/{name}/versions", { params: { path: { tenant_id: tenant, name } }, body: { source: text! } })),
    onSuccess: async (saved) => {
      setNotice(null);
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
  if (text === null || (!isNew && !tree.data)) return <p>Loading…</p>;
  const published = tree.data?.published_version;
  const checking = check.isFetching;

  return (
    <div className="editor">
      <div className="row toolbar">
        <h1>{name}</h1>
        <span className="badge">
          {isNew ? "new · not saved yet" : `v${latest}${published ? ` · published v${published}` : " · unpublished"}`}
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
            <button type="button" disabled={!selected} onClick={() => void copy()}>
              Copy node
            </button>
            <button type="button" onClick={() => void paste()}>
              Paste nodes
            </button>
            {isNew ? (
              <button type="button" disabled={create.isPending || items.length > 0 || checking} onClick={() => create.mutate()}>
                Create tree
              </button>
            ) : (
              <>
                <button type="button" disabled={!dirty || save.isPending || items.length > 0} onClick={() => save.mutate()}>
                  Save as new version
                </button>
                <button type="button" disabled={dirty || publish.isPending || published === latest} onClick={() => publish.mutate()}>
                  Publish v{latest}
                </button>
                <Link className="button" to={`/t/${tenant}/trees/${name}/run`}>Run</Link>
              </>
            )}
          </>
        )}
      </div>
      <ProblemMessage error={create.error ?? save.error ?? publish.error ?? editError} />
      <p role="status" className="notice">{notice}</p>
      {created !== undefined && !save.isSuccess && !dirty && <p role="status">Created {name}, version {created}.</p>}
      {save.isSuccess && !dirty && <p role="status">Saved version {save.data.version}.</p>}
      {publish.isSuccess && <p role="status">Published version {published}.</p>}
      <div className={canEdit ? "editor-body" : "editor-body no-palette"}>
        {canEdit && <Palette tools={toolList} onAdd={(item) => add(item)} />}
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
              dropType={PALETTE_MIME}
              onDropData={(data, onNode) => {
                const item = asPaletteItem(data);
                if (item) add(item, onNode);
              }}
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
              remove={() => remove(selected)}
              makeStart={() => apply((t) => setTreeField(t, "start", selected))}
            />
          ) : (
            <p className="hint">Select a node to inspect it.</p>
          )}
          <ShortcutList />
        </aside>
      </div>
    </div>
  );
}
