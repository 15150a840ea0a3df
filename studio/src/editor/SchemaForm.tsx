// A form for a tool's arguments, generated from its input JSON Schema.
//
// Numbers and objects are typed as text so an argument can also be a template
// (`{{ inputs.limit }}`): a value that parses as the schema's type is stored typed.
import { isRecord } from "../tree/model";

interface Props {
  idPrefix: string;
  schema: Record<string, unknown>;
  value: Record<string, unknown>;
  onChange: (field: string, value: unknown) => void;
  problems: Map<string, string>;
  readOnly: boolean;
  /** A datalist of `{{ name }}` templates in scope, offered on the text fields. */
  templateList?: string;
}

function typed(kind: unknown, text: string): unknown {
  if (text === "") return undefined;
  if ((kind === "integer" || kind === "number") && text.trim() !== "" && !Number.isNaN(Number(text))) {
    return kind === "integer" && Number.isInteger(Number(text)) ? Number(text) : Number(text);
  }
  if (kind === "object" || kind === "array") {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function shown(value: unknown): string {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : typeof value === "object" ? JSON.stringify(value) : String(value);
}

export function SchemaForm({ idPrefix, schema, value, onChange, problems, readOnly, templateList }: Props) {
  const properties = isRecord(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  const names = Object.keys(properties);
  if (names.length === 0) return <p className="hint">This tool takes no arguments.</p>;
  return (
    <fieldset className="schema-form">
      <legend>Arguments</legend>
      {names.map((name) => {
        const property = isRecord(properties[name]) ? properties[name] : {};
        const kind = property.type;
        const id = `${idPrefix}-${name}`;
        const problem = problems.get(name);
        const help = typeof property.description === "string" ? property.description : "";
        const enumValues = Array.isArray(property.enum) ? property.enum : null;
        return (
          <div className="field" key={name}>
            <label htmlFor={id}>
              {name}
              {required.has(name) ? " (required)" : ""}
            </label>
            {kind === "boolean" ? (
              <input
                id={id}
                type="checkbox"
                checked={value[name] === true}
                disabled={readOnly}
                onChange={(e) => onChange(name, e.target.checked)}
              />
            ) : enumValues ? (
              <select id={id} value={shown(value[name])} disabled={readOnly} onChange={(e) => onChange(name, e.target.value || undefined)}>
                <option value="">—</option>
                {enumValues.map((option) => (
                  <option key={String(option)} value={String(option)}>
                    {String(option)}
                  </option>
                ))}
              </select>
            ) : (
              <input
                id={id}
                value={shown(value[name])}
                readOnly={readOnly}
                aria-invalid={problem ? true : undefined}
                aria-describedby={problem ? `${id}-problem` : undefined}
                placeholder={typeof kind === "string" ? kind : "value"}
                list={templateList}
                onChange={(e) => onChange(name, typed(kind, e.target.value))}
              />
            )}
            {help && <small>{help}</small>}
            {problem && (
              <small className="field-problem" id={`${id}-problem`} role="status">
                {problem}
              </small>
            )}
          </div>
        );
      })}
    </fieldset>
  );
}
