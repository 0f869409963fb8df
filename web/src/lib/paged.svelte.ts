// Cursor pagination for any `{items, next_cursor}` list: `const list = paged((cursor) => fetchPage(cursor))`,
// then `list.items`, `list.more()`, `list.loading`, `list.error`, `list.done`.
//
// `reset()` starts over at once, even while a page is loading: each reset is a new generation, and a page that
// was asked for by an older generation is dropped when it lands. Items with an `id` are never listed twice (a
// live insert made while page 1 loads is not repeated when page 1 arrives: `{#each (id)}` needs unique keys).
export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

/** `items` followed by those of `page` not already listed (by `id`, for items that have one). */
export function appendUnique<T>(items: T[], page: T[]): T[] {
  const idOf = (x: T) => (x && typeof x === "object" && "id" in x ? (x as { id: unknown }).id : undefined);
  const seen = new Set<unknown>();
  for (const x of items) {
    const id = idOf(x);
    if (id !== undefined && id !== null) seen.add(id);
  }
  const out = [...items];
  for (const x of page) {
    const id = idOf(x);
    if (id !== undefined && id !== null) {
      if (seen.has(id)) continue;
      seen.add(id);
    }
    out.push(x);
  }
  return out;
}

export function paged<T>(fetchPage: (cursor: string | null) => Promise<Page<T>>) {
  const s = $state({ items: [] as T[], cursor: null as string | null, done: false, loading: false, error: null as unknown });
  let generation = 0;
  async function more() {
    if (s.loading || s.done) return;
    const mine = generation;
    s.loading = true;
    s.error = null;
    try {
      const page = await fetchPage(s.cursor);
      if (mine !== generation) return; // a reset() came meanwhile: this page belongs to the old list
      s.items = appendUnique(s.items, page.items);
      s.cursor = page.next_cursor ?? null;
      s.done = !s.cursor;
    } catch (e) {
      if (mine === generation) s.error = e;
    } finally {
      if (mine === generation) s.loading = false;
    }
  }
  function reset() {
    generation += 1;
    s.items = [];
    s.cursor = null;
    s.done = false;
    s.error = null;
    s.loading = false;
    return more();
  }
  return {
    get items() {
      return s.items;
    },
    set items(v: T[]) {
      s.items = v;
    },
    get loading() {
      return s.loading;
    },
    get error() {
      return s.error;
    },
    get done() {
      return s.done;
    },
    more,
    reset,
  };
}
