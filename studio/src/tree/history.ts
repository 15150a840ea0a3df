// A bounded undo/redo history of the editor's YAML text (the one source of truth).

export const MAX_UNDO_STEPS = 100;

export interface History {
  past: readonly string[];
  present: string;
  future: readonly string[];
}

export function startHistory(text: string): History {
  return { past: [], present: text, future: [] };
}

/** Record a new text; identical texts are not steps, and the oldest step drops past the cap. */
export function record(history: History, text: string, limit = MAX_UNDO_STEPS): History {
  if (text === history.present) return history;
  const past = [...history.past, history.present].slice(-limit);
  return { past, present: text, future: [] };
}

export function undo(history: History): History {
  const previous = history.past[history.past.length - 1];
  if (previous === undefined) return history;
  return { past: history.past.slice(0, -1), present: previous, future: [history.present, ...history.future] };
}

export function redo(history: History): History {
  const [next, ...rest] = history.future;
  if (next === undefined) return history;
  return { past: [...history.past, history.present], present: next, future: rest };
}
