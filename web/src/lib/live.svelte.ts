// The tab's realtime connection and the live counters the shell shows (unread notifications and messages).
import { api, ok, tokens } from "./api/client";
import { config } from "./config";
import { Realtime } from "./realtime";

export const realtime = new Realtime({
  url: () => config().ws_url,
  token: async (stale) => (stale || !tokens.token ? await tokens.refresh() : tokens.token),
});

export const live = $state({ connected: false, unreadNotifications: 0, unreadMessages: 0 });

realtime.onStatus = (c) => {
  live.connected = c;
  if (c) void refreshCounts(); // anything missed while disconnected
};

realtime.on("notification", () => {
  live.unreadNotifications += 1; // at once, then the server's count (a count started before this frame loses)
  void refreshCounts();
});
realtime.on("message", () => {
  void refreshCounts();
});

let countsSeq = 0;

export async function refreshCounts(): Promise<void> {
  // Calls overlap (a message frame and the open conversation marking itself read): the latest one wins, so an
  // older answer that arrives last cannot bring back a badge that was just read away.
  const mine = ++countsSeq;
  try {
    // One bounded page: the badge says "99+" beyond it.
    const [page, convs] = await Promise.all([
      api.GET("/notifications", { params: { query: { unread: true, limit: 100 } } }).then(ok),
      api.GET("/conversations", { params: { query: { limit: 100 } } }).then(ok),
    ]);
    if (mine !== countsSeq) return;
    live.unreadNotifications = page.next_cursor ? 100 : page.items.length;
    live.unreadMessages = convs.items.reduce((n, c) => n + (c.unread_count > 0 ? 1 : 0), 0);
  } catch {
    /* the badge keeps its last value */
  }
}
