import type { NavItem, RouteDef } from "../../lib/router.svelte";

export const routes: RouteDef[] = [
  { path: "/", load: () => import("./Home.svelte"), title: "Home" },
  { path: "/search", load: () => import("./Search.svelte"), title: "Search" },
  { path: "/u/:user", load: () => import("./Profile.svelte"), title: "Profile" },
  { path: "/bookmarks", load: () => import("./Bookmarks.svelte"), title: "Bookmarks" },
  { path: "/friends", load: () => import("./Friends.svelte"), title: "Friends" },
];

export const nav: NavItem[] = [
  { href: "/", label: "Home", order: 10 },
  { href: "/search", label: "Search", order: 12 },
  { href: "/bookmarks", label: "Bookmarks", order: 70 },
  { href: "/friends", label: "Friends", order: 72 },
];
