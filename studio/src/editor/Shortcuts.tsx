// The editor's keyboard shortcuts: one table drives both the handler and the visible list.
import { useEffect, useRef } from "react";

export type ShortcutAction = "copy" | "paste" | "undo" | "redo" | "delete";

export const SHORTCUTS: readonly { keys: string; action: ShortcutAction; what: string }[] = [
  { keys: "Ctrl+C", action: "copy", what: "Copy the selected node as YAML" },
  { keys: "Ctrl+V", action: "paste", what: "Paste nodes (also from another tree)" },
  { keys: "Ctrl+Z", action: "undo", what: "Undo" },
  { keys: "Ctrl+Shift+Z / Ctrl+Y", action: "redo", what: "Redo" },
  { keys: "Delete", action: "delete", what: "Delete the selected node" },
];

/** The action of a key press outside text fields, if it is a shortcut. */
export function shortcutOf(event: KeyboardEvent): ShortcutAction | null {
  const target = event.target as HTMLElement | null;
  if (target?.closest("input, textarea, select, [contenteditable=true], .cm-editor")) return null;
  const key = event.key.toLowerCase();
  if (event.ctrlKey || event.metaKey) {
    if (key === "c") return "copy";
    if (key === "v") return "paste";
    if (key === "z") return event.shiftKey ? "redo" : "undo";
    if (key === "y") return "redo";
    return null;
  }
  return key === "delete" ? "delete" : null;
}

/** Run `handle` for editor shortcuts pressed anywhere on the page; it says if it acted. */
export function useShortcuts(handle: (action: ShortcutAction) => boolean): void {
  const latest = useRef(handle);
  latest.current = handle;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const action = shortcutOf(event);
      if (action !== null && latest.current(action)) event.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}

export function ShortcutList() {
  return (
    <details className="shortcuts" open>
      <summary>Keyboard shortcuts</summary>
      <dl>
        {SHORTCUTS.map((s) => (
          <div key={s.action}>
            <dt>
              <kbd>{s.keys}</kbd>
            </dt>
            <dd>{s.what}</dd>
          </div>
        ))}
      </dl>
      <p className="hint">Tab to a canvas node and press Enter to select it; every action also has a button.</p>
    </details>
  );
}
