/*
 * Models built on models: a model's SQL may name another model as `{{#<card id>}}` or `{{#<card id>-<slug>}}`
 * (the reference system's syntax). These pure functions find the references, substitute them, and order
 * models so that every upstream comes before its downstream; the api (save-time checks, lineage) and the
 * refresher (expansion, run order) share them.
 */

const REFERENCE = /\{\{\s*#(\d{1,9})(?:-[A-Za-z0-9_-]*)?\s*\}\}/g;

/** The card ids a model's SQL references, each once, in order of first appearance. */
export function modelReferences(sql: string): number[] {
  const ids: number[] = [];
  for (const m of sql.matchAll(REFERENCE)) {
    const id = Number(m[1]);
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

/** The SQL with every reference replaced by what `replace` gives for its card id. */
export function substituteModelReferences(sql: string, replace: (cardId: number) => string): string {
  return sql.replace(REFERENCE, (_m, id: string) => replace(Number(id)));
}

/**
 * Runs a check (the model-SQL lexer) over `sql` with each reference replaced by a plain identifier — to MySQL
 * `#` starts a comment, so `{{#12}}` itself must never reach a lexer or a server — and returns the checked
 * (normalized) SQL with the references put back as they were written.
 */
export function checkWithModelReferences(sql: string, check: (sql: string) => string): string {
  const written: string[] = [];
  const placeholder = (k: number) => `mp_model_ref_${k}_`;
  const checked = check(
    sql.replace(REFERENCE, (m) => {
      written.push(m);
      return placeholder(written.length - 1);
    }),
  );
  return written.length === 0
    ? checked
    : checked.replace(/mp_model_ref_(\d+)_/g, (m, k: string) => written[Number(k)] ?? m);
}

/**
 * A cycle through `start` in the graph "model → the models it references", as the list of card ids walked
 * (first = last = the card that closes it), or null. `refsOf` gives a model's references (unknown ids: none).
 */
export function findReferenceCycle(start: number, refsOf: (cardId: number) => number[]): number[] | null {
  const path: number[] = [];
  const done = new Set<number>();
  const visit = (id: number): number[] | null => {
    const at = path.indexOf(id);
    if (at >= 0) return [...path.slice(at), id];
    if (done.has(id)) return null;
    path.push(id);
    for (const next of refsOf(id)) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    done.add(id);
    return null;
  };
  return visit(start);
}

/**
 * `items` ordered so that a model comes after every model of `items` it references (directly or through models
 * outside `items`, which are walked with `refsOf`); otherwise the input order is kept. A cycle cannot be saved
 * (the api refuses it); should one exist anyway its members keep their input order.
 */
export function upstreamFirst<T>(
  items: T[],
  idOf: (item: T) => number,
  refsOf: (cardId: number) => number[],
): T[] {
  const inRun = new Map(items.map((item, i) => [idOf(item), i]));
  const placed = new Set<number>();
  const visiting = new Set<number>();
  const out: T[] = [];
  const place = (id: number) => {
    if (placed.has(id) || visiting.has(id)) return;
    visiting.add(id);
    for (const up of refsOf(id)) place(up);
    visiting.delete(id);
    placed.add(id);
    const i = inRun.get(id);
    if (i !== undefined) out.push(items[i]);
  };
  for (const item of items) place(idOf(item));
  return out;
}

/** Every model that reads `cardId`, directly or through other models: ids of `all` with the depth found. */
export function downstreamOf(
  cardId: number,
  all: ReadonlyArray<{ id: number; refs: number[] }>,
): Array<{ id: number; depth: number }> {
  const found = new Map<number, number>();
  let frontier = [cardId];
  for (let depth = 1; frontier.length > 0; depth++) {
    const next: number[] = [];
    for (const m of all) {
      if (found.has(m.id) || m.id === cardId) continue;
      if (m.refs.some((r) => frontier.includes(r))) {
        found.set(m.id, depth);
        next.push(m.id);
      }
    }
    frontier = next;
  }
  return [...found].map(([id, depth]) => ({ id, depth }));
}

/** Every model `cardId` reads, directly or through other models, with the depth found. */
export function upstreamOf(
  cardId: number,
  refsOf: (cardId: number) => number[],
): Array<{ id: number; depth: number }> {
  const found = new Map<number, number>();
  let frontier = [cardId];
  for (let depth = 1; frontier.length > 0; depth++) {
    const next: number[] = [];
    for (const id of frontier)
      for (const up of refsOf(id))
        if (up !== cardId && !found.has(up)) {
          found.set(up, depth);
          next.push(up);
        }
    frontier = next;
  }
  return [...found].map(([id, depth]) => ({ id, depth }));
}
