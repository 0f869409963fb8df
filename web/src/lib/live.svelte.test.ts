// The shell's live badges: frames in a burst cost one count refresh, not two GETs each.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const fake = vi.hoisted(() => ({
  gets: [] as { path: string; answer: (data: unknown) => void }[],
}));

vi.mock("./api/client", () => ({
  tokens: { token: "a", refresh: async () => "a" },
  api: {
    GET: (path: string) =>
      new Promise((ok) =>
        fake.gets.push({ path, answer: (data) => ok({ data, response: new Response("{}", { status: 200 }) }) }),
      ),
  },
  ok: (o: { data: unknown }) => o.data,
}));
vi.mock("./config", () => ({ config: () => ({ ws_url: "ws://x" }) }));

const { live, realtime, refreshCounts, COUNTS_DEBOUNCE_MS } = await import("./live.svelte");

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};
const answerAll = async (unread: number, convUnread: number[]) => {
  for (const g of fake.gets.splice(0))
    g.answer(
      g.path === "/notifications"
        ? { items: Array.from({ length: unread }, (_, i) => ({ id: `n${i}` })), next_cursor: null }
        : { items: convUnread.map((u, i) => ({ id: `c${i}`, unread_count: u })), next_cursor: null },
    );
  await flush();
};

describe("live badges", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    fake.gets = [];
    live.unreadNotifications = 0;
    live.unreadMessages = 0;
  });
  afterEach(() => vi.useRealTimers());

  it("a burst of frames: the notification badge bumps at once, then ONE count refresh", async () => {
    for (let i = 0; i < 5; i++) realtime.dispatch({ type: "notification" });
    realtime.dispatch({ type: "message" });
    expect(live.unreadNotifications).toBe(5);
    expect(fake.gets).toHaveLength(0);
    vi.advanceTimersByTime(COUNTS_DEBOUNCE_MS);
    expect(fake.gets.map((g) => g.path).sort()).toEqual(["/conversations", "/notifications"]);
    await answerAll(7, [2, 0, 1]);
    expect(live).toMatchObject({ unreadNotifications: 7, unreadMessages: 2 });
  });

  it("a count started before a frame cannot overwrite the frame's bump (the latest answer wins)", async () => {
    void refreshCounts(); // e.g. a conversation marking itself read
    const older = fake.gets.splice(0);
    realtime.dispatch({ type: "notification" });
    expect(live.unreadNotifications).toBe(1);
    for (const g of older) g.answer({ items: [], next_cursor: null });
    await flush();
    expect(live.unreadNotifications).toBe(1);
    vi.advanceTimersByTime(COUNTS_DEBOUNCE_MS);
    await answerAll(1, []);
    expect(live.unreadNotifications).toBe(1);
  });
});
