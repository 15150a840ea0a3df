// Messages as the chat shows them: the answer's text, the turn states, and the first
// message of each conversation this tab started (the list's labels), per tenant.

export interface MessageLike {
  turn: number;
  text: string;
  status: "answering" | "completed" | "failed";
  run: string;
  answer?: Record<string, unknown> | null;
  error?: string | null;
  path?: string[];
}

/** The answer's text: its `answer` or `text` field, else the whole output as JSON. */
export function answerText(answer: Record<string, unknown> | null | undefined): string {
  if (!answer) return "";
  for (const key of ["answer", "text"]) {
    if (typeof answer[key] === "string") return answer[key] as string;
  }
  return JSON.stringify(answer);
}

/** The turn being answered, if any (a composer is disabled while there is one). */
export function answeringTurn<M extends MessageLike>(messages: M[]): M | null {
  return messages.find((m) => m.status === "answering") ?? null;
}

/** `messages` with `sent` (just accepted by the API) in its place, in turn order. */
export function withSent<M extends MessageLike>(messages: M[], sent: M | null): M[] {
  if (!sent || messages.some((m) => m.turn === sent.turn)) return messages;
  return [...messages, sent].sort((a, b) => a.turn - b.turn);
}

export interface KnownConversation {
  id: string;
  tree: string;
  title: string;
  started: string;
}

export const MAX_KNOWN = 50;

function storageKey(tenant: string): string {
  return `treeflow.studio.chats.${tenant}`;
}

/** The conversations this browser started in `tenant`, newest first. */
export function knownConversations(storage: Pick<Storage, "getItem">, tenant: string): KnownConversation[] {
  try {
    const parsed: unknown = JSON.parse(storage.getItem(storageKey(tenant)) ?? "[]");
    return Array.isArray(parsed)
      ? parsed.filter((c): c is KnownConversation => typeof c?.id === "string" && typeof c?.tree === "string")
      : [];
  } catch {
    return [];
  }
}

/** Remembers `conversation` first (once), keeping at most `MAX_KNOWN`. */
export function rememberConversation(
  storage: Pick<Storage, "getItem" | "setItem">,
  tenant: string,
  conversation: KnownConversation,
): KnownConversation[] {
  const list = [conversation, ...knownConversations(storage, tenant).filter((c) => c.id !== conversation.id)].slice(0, MAX_KNOWN);
  storage.setItem(storageKey(tenant), JSON.stringify(list));
  return list;
}
