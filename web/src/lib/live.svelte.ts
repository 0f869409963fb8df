// The tab's realtime connection and the live counters the shell shows (unread notifications and messages).
import { api, ok, tokens } from "./api/client";
import { config } from "./config";
import { Realtime } from "./realtime";

export const realtime = new Realtime({
  url: () => config().ws_url,
  token: (stale) => socketToken(stale),
});

/** The socket's token. Null (the API refused the refresh: no session) stops realtime; a thrown error (offline,
 *  5xx) backs off and tries again, so a blip never silently ends live updates. A session that ended while the tab
 *  was open (revoked, suspended: the server closes the socket and the old token no longer opens one) lands on the
 *  login screen now, not at the next click. */
export async function socketToken(stale: boolean): Promise<string | null> {
  if (!stale && tokens.token) return tokens.token;
  const had = !!tokens.token;
  const token = await tokens.refresh();
  if (!token && had) tokens.onExpired();
  return token;
}

// Back online: reconnect now rather than after the rest of the backoff.
if (typeof window !== "undefined") window.addEventListener("online", () => realtime.retryNow());

export const live = $state({ connected: false, unreadNotifications: 0, unreadMessages: 0 });

realtime.onStatus = (c) => {
  live.connected = c;
  if (c) void refreshCounts(); // anything missed while disconnected
};

realtime.on("notification", () => {
  live.unreadNotifications += 1; // at once, then the server's count (a count started before this frame loses)
  refreshCountsSoon();
});
realtime.on("message", () => {
  refreshCountsSoon();
});

/** Frames come in bursts: one count refresh (two list GETs) this long after the last frame of a burst. */
export const COUNTS_DEBOUNCE_MS = 300;
let countsTimer: ReturnType<typeof setTimeout> | null = null;

/** Refresh the badges shortly (trailing debounce). Any count already in flight is outdated by now: it loses. */
export function refreshCountsSoon(): void {
  countsSeq += 1;
  if (countsTimer !== null) clearTimeout(countsTimer);
  countsTimer = setTimeout(() => {
    countsTimer = null;
    void refreshCounts();
  }, COUNTS_DEBOUNCE_MS);
}

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
