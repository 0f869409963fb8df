// `.svelte.test.ts`: compiled by the Svelte plugin, so the runes in paged.svelte.ts work under Vitest.
import { describe, expect, it } from "vitest";
import { appendUnique, paged, type Page } from "./paged.svelte";

type Item = { id: string };
const tick = () => new Promise((ok) => setTimeout(ok, 0));

/** Pages the test answers by hand, in any order. */
function pages() {
  const asked: { cursor: string | null; answer: (p: Page<Item>) => void; fail: (e: unknown) => void }[] = [];
  const fetchPage = (cursor: string | null) =>
    new Promise<Page<Item>>((answer, fail) => asked.push({ cursor, answer, fail }));
  return { asked, fetchPage };
}
const ids = (xs: Item[]) => xs.map((x) => x.id);

describe("paged", () => {
  it("pages on with the cursor until there is none", async () => {
    const p = pages();
    const list = paged(p.fetchPage);
    void list.more();
    p.asked[0].answer({ items: [{ id: "a" }], next_cursor: "c1" });
    await tick();
    void list.more();
    expect(p.asked[1].cursor).toBe("c1");
    p.asked[1].answer({ items: [{ id: "b" }], next_cursor: null });
    await tick();
    expect(ids(list.items)).toEqual(["a", "b"]);
    expect(list.done).toBe(true);
  });

  it("reset() during a load starts over at once; the old request's page is dropped", async () => {
    const p = pages();
    const list = paged(p.fetchPage);
    void list.more();
    p.asked[0].answer({ items: [{ id: "a" }], next_cursor: "c1" });
    await tick();
    void list.more(); // page 2 of the old filter, in flight
    void list.reset(); // the filter changed
    expect(p.asked).toHaveLength(3);
    expect(p.asked[2].cursor).toBeNull();
    p.asked[2].answer({ items: [{ id: "n1" }], next_cursor: null });
    await tick();
    p.asked[1].answer({ items: [{ id: "old2" }], next_cursor: "c2" });
    await tick();
    expect(ids(list.items)).toEqual(["n1"]);
    expect(list.done).toBe(true);
    expect(list.loading).toBe(false);
  });

  it("an old request's failure after a reset shows no error", async () => {
    const p = pages();
    const list = paged(p.fetchPage);
    void list.more();
    void list.reset();
    p.asked[0].fail(new Error("old"));
    await tick();
    expect(list.error).toBeNull();
    expect(list.loading).toBe(true);
  });

  it("a live insert made while page 1 loads is not listed twice", async () => {
    const p = pages();
    const list = paged(p.fetchPage);
    void list.more();
    list.items = [{ id: "live" }, ...list.items];
    p.asked[0].answer({ items: [{ id: "live" }, { id: "x" }], next_cursor: null });
    await tick();
    expect(ids(list.items)).toEqual(["live", "x"]);
  });
});

describe("appendUnique", () => {
  it("skips ids already listed and keeps items without an id", () => {
    expect(appendUnique<unknown>([{ id: 1 }, "s"], [{ id: 1 }, { id: 2 }, "s", { id: 2 }])).toEqual([
      { id: 1 },
      "s",
      { id: 2 },
      "s",
    ]);
  });
});
