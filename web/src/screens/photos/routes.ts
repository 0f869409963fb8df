import type { NavItem, RouteDef } from "../../lib/router.svelte";

export const routes: RouteDef[] = [
  { path: "/photos/:photo_id", load: () => import("./Photo.svelte"), auth: false, title: "Photo" },
  { path: "/s/:token", load: () => import("./Shared.svelte"), auth: false, title: "Shared photo" },
];

export const nav: NavItem[] = [];
