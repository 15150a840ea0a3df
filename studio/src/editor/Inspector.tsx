// The selected node's fields: a form from its kind and, for tools, from the tool's input schema.
import { useState } from "react";
import type { ChecklistItem } from "../tree/checklist";
import { isRecord, type TreeDoc } from "../tree/model";
import { scopeNames } from "../tree/scope";
import { resolveTool, type ToolLike } from "../tree/tools";
import { SchemaForm } from "./SchemaForm";
import { ScopeDatalist, ScopeList, scopeListId } from "./ScopeList";

interface Props {
  tree: TreeDoc;
  nodeId: string;
  tools: ToolLike[];
  problems: ChecklistItem[];
  readOnly: boolean;
  setField: (path: (string | number)[], value: unknown) => void;
  connect: (target: string) => void;
  remove: () => void;
  makeStart: () => void;
}

function str(value: unknown): string {
  return value === undefined || value === null ? "" : String(value);
}

export function Inspector({ tree, nodeId, tools, problems, readOnly, setField, connect, remove, makeStart }: Props) {
  const node = tree.nodes[nodeId];
  const [target, setTarget] = useState("");
  if (!node) return null;
  const others = Object.keys(tree.nodes).filter((id) => id !== nodeId);
  const problemAt = new Map(problems.map((p) => [p.field, p.message]));
  const id = (field: string) => `f-${nodeId}-${field}`;

  const text = (field: string, label: string, multiline = false) => {
    const problem = problemAt.get(field);
    const props = {
      id: id(field),
      value: str(node[field]),
      readOnly,
      "aria-invalid": problem ? true : undefined,
      "aria-describedby": problem ? `${id(field)}-problem` : undefined,
      onChange: (e: { target: { value: string } }) => setField([field], e.target.value),
    };
    return (
      <div className="field" key={field}>
        <label htmlFor={id(field)}>{label}</label>
        {multiline ? <textarea rows={3} {...props} /> : <input {...props} />}
        {problem && (
          <small className="field-problem" id={`${id(field)}-problem`} role="status">
            {problem}
          </small>
        )}
      </div>
    );
  };
  const number = (field: string, label: string) => (
    <div className="field" key={field}>
      <label htmlFor={id(field)}>{label}</label>
      <input
        id={id(field)}
        type="number"
        min={1}
        readOnly={readOnly}
        value={str(node[field])}
        onChange={(e) => setField([field], e.target.value === "" ? undefined : Number(e.target.value))}
      />
      {problemAt.get(field) && <small className="field-problem">{problemAt.get(field)}</small>}
    </div>
  );
  const reference = (field: string, label: string) => (
    <div className="field" key={field}>
      <label htmlFor={id(field)}>{label}</label>
      <select id={id(field)} disabled={readOnly} value={str(node[field])} onChange={(e) => setField([field], e.target.value || undefined)}>
        <option value="">—</option>
        {others.map((other) => (
          <option key={other} value={other}>
            {other}
          </option>
        ))}
        {typeof node[field] === "string" && !tree.nodes[node[field] as string] && (
          <option value={str(node[field])}>{str(node[field])} (missing)</option>
        )}
      </select>
      {problemAt.get(field) && (
        <small className="field-problem" role="status">
          {problemAt.get(field)}
        </small>
      )}
    </div>
  );

  const resolved = node.kind === "tool" ? resolveTool(str(node.tool), tools) : null;
  const argProblems = new Map(
    problems.filter((p) => p.field.startsWith("args.")).map((p) => [p.field.slice("args.".length).split(".")[0] ?? "", p.message]),
  );
  const branches = Array.isArray(node.branches) ? (node.branches as unknown[]) : [];
  const scope = scopeNames(tree, nodeId);

  return (
    <section className="inspector" aria-labelledby="inspector-title">
      <h2 id="inspector-title">
        {node.kind} <code>{nodeId}</code>
      </h2>
      {problems.length > 0 && (
        <ul className="node-problems" aria-label={`Problems of ${nodeId}`}>
          {problems.map((p) => (
            <li key={p.field + p.message}>
              <code>{p.field || nodeId}</code>: {p.message}
            </li>
          ))}
        </ul>
      )}
      {text("description", "Description")}
      {node.kind === "tool" && (
        <>
          <div className="field">
            <label htmlFor={id("tool")}>Tool</label>
            <input id={id("tool")} list={`${id("tool")}-list`} readOnly={readOnly} value={str(node.tool)} onChange={(e) => setField(["tool"], e.target.value)} aria-invalid={problemAt.has("tool") || undefined} />
            <datalist id={`${id("tool")}-list`}>
              {tools.filter((t) => t.allowed).map((t) => (
                <option key={t.name} value={`${t.name}@^${(t.versions[0]?.version ?? "1").split(".")[0]}`} />
              ))}
            </datalist>
            {problemAt.get("tool") && <small className="field-problem" role="status">{problemAt.get("tool")}</small>}
            {resolved && <small>{resolved.version.description} (resolves to {resolved.version.version})</small>}
          </div>
          {resolved && (
            <SchemaForm
              idPrefix={id("args")}
              schema={resolved.version.input_schema}
              value={isRecord(node.args) ? node.args : {}}
              problems={argProblems}
              readOnly={readOnly}
              templateList={`${scopeListId(nodeId)}-templates`}
              onChange={(field, value) => setField(["args", field], value)}
            />
          )}
          {reference("next", "Next")}
          {reference("on_error", "On error")}
          {number("timeout", "Timeout (seconds)")}
          <div className="field">
            <label htmlFor={id("retry")}>Retry: max attempts</label>
            <input
              id={id("retry")}
              type="number"
              min={1}
              readOnly={readOnly}
              value={str(isRecord(node.retry) ? node.retry.max_attempts : "")}
              onChange={(e) => setField(["retry", "max_attempts"], e.target.value === "" ? undefined : Number(e.target.value))}
            />
          </div>
        </>
      )}
      {node.kind === "decision" && (
        <>
          <div className="field">
            <label htmlFor={id("strategy")}>Strategy</label>
            <select id={id("strategy")} disabled={readOnly} value={str(node.strategy || "rules")} onChange={(e) => setField(["strategy"], e.target.value)}>
              <option value="rules">rules</option>
              <option value="router">router</option>
              <option value="llm">llm</option>
            </select>
          </div>
          {text("instruction", "Instruction", true)}
          {number("max_passes", "Max passes")}
          {reference("on_limit", "On limit")}
          <fieldset>
            <legend>Branches (in order)</legend>
            {branches.length === 0 && <p className="hint">No branches yet: connect this node to another.</p>}
            <ol>
              {branches.map((branch, index) => {
                const b = isRecord(branch) ? branch : {};
                const problem = problemAt.get(`branches.${index}.to`) ?? problemAt.get(`branches.${index}.when`) ?? problemAt.get(`branches.${index}`);
                return (
                  <li key={index}>
                    <label htmlFor={id(`b${index}-to`)}>Branch {index + 1} to</label>
                    <select id={id(`b${index}-to`)} disabled={readOnly} value={str(b.to)} onChange={(e) => setField(["branches", index, "to"], e.target.value)}>
                      {others.map((other) => (
                        <option key={other} value={other}>{other}</option>
                      ))}
                      {!tree.nodes[str(b.to)] && <option value={str(b.to)}>{str(b.to)} (missing)</option>}
                    </select>
                    <label htmlFor={id(`b${index}-when`)}>When</label>
                    <input id={id(`b${index}-when`)} readOnly={readOnly} value={str(b.when)} list={`${scopeListId(nodeId)}-options`} aria-describedby={scopeListId(nodeId)} aria-invalid={problem ? true : undefined} placeholder="rule expression; empty = otherwise" onChange={(e) => setField(["branches", index, "when"], e.target.value)} />
                    {problem && <small className="field-problem" role="status">{problem}</small>}
                  </li>
                );
              })}
            </ol>
          </fieldset>
        </>
      )}
      {node.kind === "input" && (
        <>
          {text("prompt", "Prompt", true)}
          {text("save_as", "Save as")}
          {reference("next", "Next")}
        </>
      )}
      {node.kind === "subtree" && (
        <>
          {text("tree", "Tree name")}
          {reference("next", "Next")}
          {reference("on_error", "On error")}
        </>
      )}
      {node.kind === "parallel" && reference("join", "Join")}
      {node.kind === "end" && <p className="hint">Edit the output in the YAML view.</p>}
      {node.kind !== "parallel" && (
        <>
          <ScopeList nodeId={nodeId} names={scope} />
          <ScopeDatalist nodeId={nodeId} names={scope} />
        </>
      )}
      {!readOnly && (
        <div className="actions">
          {node.kind !== "end" && (
            <div className="field">
              <label htmlFor={id("connect")}>Connect to</label>
              <select id={id("connect")} value={target} onChange={(e) => setTarget(e.target.value)}>
                <option value="">—</option>
                {others.map((other) => (
                  <option key={other} value={other}>{other}</option>
                ))}
              </select>
              <button type="button" disabled={!target} onClick={() => { connect(target); setTarget(""); }}>
                Connect
              </button>
            </div>
          )}
          {tree.start !== nodeId && <button type="button" onClick={makeStart}>Make start node</button>}
          <button type="button" className="danger" onClick={remove}>
            Delete node
          </button>
        </div>
      )}
    </section>
  );
}
