// The shell's live badges: frames in a burst cost one count refresh, not two GETs each.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const fake = vi.hoisted(() => ({
  gets: [] as { path: string; answer: (data: unknown) => void }[],
  tokens: { token: "a" as string | null, refresh: async (): Promise<string | null> => "a", onExpired: () => {} },
}));

vi.mock("./api/client", () => ({
  tokens: fake.tokens,
  api: {
    GET: (path: string) =>
      new Promise((ok) =>
        fake.gets.push({ path, answer: (data) => ok({ data, response: new Response("{}", { status: 200 }) }) }),
      ),
  },
  ok: (o: { data: unknown }) => o.data,
}));
vi.mock("./config", () => ({ config: () => ({ ws_url: "ws://x" }) }));

const { live, realtime, refreshCounts, socketToken, COUNTS_DEBOUNCE_MS } = await import("./live.svelte");

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

describe("socket token", () => {
  afterEach(() => {
    fake.tokens.token = "a";
    fake.tokens.refresh = async () => "a";
    fake.tokens.onExpired = () => {};
  });

  it("reuses the access token until a socket is refused, then refreshes", async () => {
    let refreshes = 0;
    fake.tokens.refresh = async () => (refreshes++, "b");
    expect(await socketToken(false)).toBe("a");
    expect(await socketToken(true)).toBe("b");
    expect(refreshes).toBe(1);
  });

  it("a session ended while open (suspended, revoked): the refresh is refused and the tab goes to login", async () => {
    const ended = vi.fn();
    fake.tokens.onExpired = ended;
    fake.tokens.refresh = async () => ((fake.tokens.token = null), null);
    expect(await socketToken(true)).toBeNull();
    expect(ended).toHaveBeenCalledTimes(1);
  });

  it("nobody was logged in: no session is no news", async () => {
    const ended = vi.fn();
    fake.tokens.onExpired = ended;
    fake.tokens.token = null;
    fake.tokens.refresh = async () => null;
    expect(await socketToken(false)).toBeNull();
    expect(ended).not.toHaveBeenCalled();
  });
});
