// The header row of an operate table; the Actions column only for who may act.
export function TableHead({ columns, actions }: { columns: string[]; actions: boolean }) {
  return (
    <thead>
      <tr>
        {columns.map((column) => (
          <th scope="col" key={column}>
            {column}
          </th>
        ))}
        {actions && <th scope="col">Actions</th>}
      </tr>
    </thead>
  );
}
