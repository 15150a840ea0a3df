// The header row of a table: one column header per entry, and an Actions column only for
// who may act. Entries are text, or markup such as a label only screen readers get.
import type { ReactNode } from "react";

/** A column header read by screen readers but not shown (e.g. over a row's links). */
export function Unseen({ children }: { children: ReactNode }) {
  return <span className="sr-only">{children}</span>;
}

export function TableHead({ columns, actions = false }: { columns: ReactNode[]; actions?: boolean }) {
  return (
    <thead>
      <tr>
        {columns.map((column, i) => (
          <th scope="col" key={i}>
            {column}
          </th>
        ))}
        {actions && <th scope="col">Actions</th>}
      </tr>
    </thead>
  );
}
