// The system clipboard for node YAML, with a fallback: when the page may not use
// navigator.clipboard (no permission, insecure origin) or it holds something else, the
// Studio's last copy (kept in localStorage) is used, so copy/paste across trees works.

const FALLBACK_KEY = "treeflow.clipboard";

export async function writeClipboard(text: string): Promise<void> {
  localStorage.setItem(FALLBACK_KEY, text);
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // The localStorage copy is the clipboard then.
  }
}

/** The clipboard's text when `accept` takes it, else the Studio's last copy. */
export async function readClipboard(accept: (text: string) => boolean): Promise<string> {
  try {
    const text = await navigator.clipboard.readText();
    if (accept(text)) return text;
  } catch {
    // Not allowed here: fall back.
  }
  return localStorage.getItem(FALLBACK_KEY) ?? "";
}
