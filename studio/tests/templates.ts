// The shipped templates (templates/*/tree.yaml), read from the repository.
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";

export const TEMPLATES_DIR = join(__dirname, "..", "..", "templates");

export function shippedTemplates(): { name: string; text: string }[] {
  return readdirSync(TEMPLATES_DIR)
    .filter((name) => existsSync(join(TEMPLATES_DIR, name, "tree.yaml")))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(TEMPLATES_DIR, name, "tree.yaml"), "utf8") }));
}
