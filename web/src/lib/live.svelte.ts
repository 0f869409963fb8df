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
  live.unreadNotifications += 1;
});
realtime.on("message", () => {
  void refreshCounts();
});

export async function refreshCounts(): Promise<void> {
  try {
    // One bounded page: the badge says "99+" beyond it.
    const page = ok(await api.GET("/notifications", { params: { query: { unread: true, limit: 100 } } }));
    live.unreadNotifications = page.next_cursor ? 100 : page.items.length;
    const convs = ok(await api.GET("/conversations", { params: { query: { limit: 100 } } }));
    live.unreadMessages = convs.items.reduce((n, c) => n + (c.unread_count > 0 ? 1 : 0), 0);
  } catch {
    /* the badge keeps its last value */
  }
}
