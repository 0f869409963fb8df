// Cursor pagination for any `{items, next_cursor}` list: `const list = paged((cursor) => fetchPage(cursor))`,
// then `list.items`, `list.more()`, `list.loading`, `list.error`, `list.done`.
export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export function paged<T>(fetchPage: (cursor: string | null) => Promise<Page<T>>) {
  const s = $state({ items: [] as T[], cursor: null as string | null, done: false, loading: false, error: null as unknown });
  async function more() {
    if (s.loading || s.done) return;
    s.loading = true;
    s.error = null;
    try {
      const page = await fetchPage(s.cursor);
      s.items = [...s.items, ...page.items];
      s.cursor = page.next_cursor ?? null;
      s.done = !s.cursor;
    } catch (e) {
      s.error = e;
    } finally {
      s.loading = false;
    }
  }
  function reset() {
    s.items = [];
    s.cursor = null;
    s.done = false;
    s.error = null;
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
