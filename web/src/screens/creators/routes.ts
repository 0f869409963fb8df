import type { NavItem, RouteDef } from "../../lib/router.svelte";

export const routes: RouteDef[] = [
  { path: "/c/:user", load: () => import("./Creator.svelte"), auth: false, title: "Creator" },
  { path: "/wallet", load: () => import("./Wallet.svelte"), title: "Wallet" },
  { path: "/creator", load: () => import("./Dashboard.svelte"), roles: ["creator"], title: "Creator dashboard" },
];

export const nav: NavItem[] = [
  { href: "/wallet", label: "Wallet", order: 70 },
  { href: "/creator", label: "Creator", roles: ["creator"], order: 72 },
];
