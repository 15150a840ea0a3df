// The palette: every node kind and every tool version the tenant may use, grouped by
// where the tool comes from. Each entry is a button (click or Enter adds the node) and an
// HTML5 drag source (drop it on the canvas; on a node it also connects from that node).
import type { DragEvent } from "react";
import { KIND_DESCRIPTIONS, NODE_KINDS } from "../tree/model";
import { paletteGroups, type PaletteItem, type ToolLike } from "../tree/tools";

/** The drag data type of a palette entry (JSON of a `PaletteItem`). */
export const PALETTE_MIME = "application/x-treeflow-node";

interface Props {
  tools: readonly ToolLike[];
  onAdd: (item: PaletteItem) => void;
}

function Entry({ item, label, title, onAdd }: { item: PaletteItem; label: string; title: string; onAdd: (item: PaletteItem) => void }) {
  const onDragStart = (event: DragEvent<HTMLButtonElement>) => {
    event.dataTransfer.setData(PALETTE_MIME, JSON.stringify(item));
    event.dataTransfer.effectAllowed = "copy";
  };
  return (
    <li>
      <button type="button" draggable title={title} onDragStart={onDragStart} onClick={() => onAdd(item)}>
        + {label}
      </button>
    </li>
  );
}

export function Palette({ tools, onAdd }: Props) {
  const groups = paletteGroups(tools);
  return (
    <aside className="palette" aria-label="Palette">
      <h2>Add a node</h2>
      <p className="hint">Click, press Enter, or drag onto the canvas (onto a node to connect it).</p>
      <ul>
        {NODE_KINDS.filter((k) => k !== "tool").map((kind) => (
          <Entry key={kind} item={{ kind }} label={kind} title={KIND_DESCRIPTIONS[kind]} onAdd={onAdd} />
        ))}
      </ul>
      {groups.map((group) => (
        <section key={group.title} aria-label={group.title}>
          <h2>{group.title}</h2>
          <ul>
            {group.entries.map((entry) => (
              <Entry key={entry.label} item={{ kind: "tool", tool: entry.constraint }} label={entry.label} title={entry.description} onAdd={onAdd} />
            ))}
          </ul>
        </section>
      ))}
    </aside>
  );
}
