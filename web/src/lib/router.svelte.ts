// A small history-API router. Each screen area declares its routes (`screens/<area>/routes.ts`); a route's
// component is loaded on first visit, so every area is its own chunk and the initial bundle stays small.
import type { Component } from "svelte";

export interface RouteDef {
  /** `/events/:event_id`; params arrive as the component's `params` prop. */
  path: string;
  load: () => Promise<{ default: Component<any> }>;
  /** true (default): logged-in users only; false: anyone; "anon": logged-out only (login, signup). */
  auth?: boolean | "anon";
  roles?: string[];
  title: string;
}

export interface NavItem {
  href: string;
  label: string;
  roles?: string[];
  /** Where it shows: the main bar, or the account menu. */
  place?: "main" | "menu";
  order?: number;
}

export interface Match {
  route: RouteDef;
  params: Record<string, string>;
}

export const router = $state<{ path: string; query: URLSearchParams }>({
  path: location.pathname,
  query: new URLSearchParams(location.search),
});

function compile(path: string): RegExp {
  const pattern = path.replace(/\/:([a-z_]+)/g, "/(?<$1>[^/]+)");
  return new RegExp(`^${pattern}/?$`);
}

export function matcher(routes: RouteDef[]): (path: string) => Match | null {
  const compiled = routes.map((route) => ({ route, re: compile(route.path) }));
  return (path) => {
    for (const { route, re } of compiled) {
      const m = re.exec(path);
      if (m) {
        const params: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.groups ?? {})) params[k] = decodeURIComponent(v);
        return { route, params };
      }
    }
    return null;
  };
}

function sync(): void {
  router.path = location.pathname;
  router.query = new URLSearchParams(location.search);
}

export function navigate(href: string, { replace = false } = {}): void {
  const url = new URL(href, location.origin);
  if (url.origin !== location.origin) {
    location.assign(url.href);
    return;
  }
  if (url.pathname + url.search === location.pathname + location.search) return;
  if (replace) history.replaceState({}, "", url.pathname + url.search + url.hash);
  else history.pushState({}, "", url.pathname + url.search + url.hash);
  sync();
  window.scrollTo(0, 0);
}

/** A `?next=` target only ever leads within the app (`/\\evil.example` and `//evil.example` are other sites). */
export function safeNext(next: string | null, origin: string = location.origin): string {
  if (!next) return "/";
  try {
    const url = new URL(next, origin);
    return url.origin === origin ? url.pathname + url.search + url.hash : "/";
  } catch {
    return "/";
  }
}

/** Set a query parameter without a new history entry (filters, tabs). */
export function setQuery(key: string, value: string | null): void {
  const q = new URLSearchParams(location.search);
  if (value === null || value === "") q.delete(key);
  else q.set(key, value);
  const s = q.toString();
  history.replaceState({}, "", location.pathname + (s ? `?${s}` : ""));
  sync();
}

export function startRouter(): void {
  window.addEventListener("popstate", sync);
  document.addEventListener("click", (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element | null)?.closest?.("a");
    if (!a || a.target || a.hasAttribute("download") || a.getAttribute("rel") === "external") return;
    const href = a.getAttribute("href");
    if (!href || !href.startsWith("/") || href.startsWith("//")) return;
    e.preventDefault();
    navigate(href);
  });
}
