/** Handlebars over templates/: every generated file comes from one template fed by a plain view-model. */
import Handlebars from 'handlebars';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const TEMPLATES_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));

// C source is not HTML: nothing is escaped; the view-model formats every value as C already.
const hbs = Handlebars.create();
const cache = new Map<string, Handlebars.TemplateDelegate>();

// Shared fragments: templates/partials/<name>.hbs is {{> name}} in any template.
for (const file of readdirSync(path.join(TEMPLATES_DIR, 'partials'))) {
  if (file.endsWith('.hbs')) hbs.registerPartial(file.slice(0, -4), readFileSync(path.join(TEMPLATES_DIR, 'partials', file), 'utf8'));
}

export function renderTemplate(name: string, view: unknown): string {
  let template = cache.get(name);
  if (!template) {
    template = hbs.compile(readFileSync(path.join(TEMPLATES_DIR, name), 'utf8'), { noEscape: true, strict: true });
    cache.set(name, template);
  }
  return template(view);
}
