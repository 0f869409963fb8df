import type { NavItem, RouteDef } from "../../lib/router.svelte";

export const routes: RouteDef[] = [
  { path: "/notifications", load: () => import("./Notifications.svelte"), title: "Notifications" },
  { path: "/messages", load: () => import("./Messages.svelte"), title: "Messages" },
  { path: "/messages/:conversation_id", load: () => import("./Messages.svelte"), title: "Messages" },
];

export const nav: NavItem[] = [
  { href: "/notifications", label: "Notifications", order: 60 },
  { href: "/messages", label: "Messages", order: 61 },
];
