// The names an expression at the inspected node can read, shown under its expression
// fields and offered as completions (a datalist) on the rule fields.
import type { ScopeName } from "../tree/scope";

export function scopeListId(nodeId: string): string {
  return `scope-${nodeId}`;
}

/** Datalists of the names in scope: bare for rules (`-options`), as `{{ }}` templates (`-templates`). */
export function ScopeDatalist({ nodeId, names }: { nodeId: string; names: readonly ScopeName[] }) {
  return (
    <>
      <datalist id={`${scopeListId(nodeId)}-options`}>
        {names.map((n) => (
          <option key={n.path} value={n.path} />
        ))}
      </datalist>
      <datalist id={`${scopeListId(nodeId)}-templates`}>
        {names.map((n) => (
          <option key={n.path} value={`{{ ${n.path} }}`} />
        ))}
      </datalist>
    </>
  );
}

export function ScopeList({ nodeId, names }: { nodeId: string; names: readonly ScopeName[] }) {
  return (
    <details className="scope-names" open>
      <summary>Names in scope here</summary>
      <p className="hint" id={scopeListId(nodeId)}>
        Use them in rules (<code>when</code>) and in <code>{"{{ }}"}</code> templates.
      </p>
      {/* Scrollable, so focusable: keyboard users can scroll it too. */}
      <ul aria-label={`Names in scope at ${nodeId}`} tabIndex={0}>
        {names.map((n) => (
          <li key={n.path}>
            <code>{n.path}</code> <small>{n.note}</small>
          </li>
        ))}
      </ul>
    </details>
  );
}
