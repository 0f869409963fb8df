import type { NavItem, RouteDef } from "../../lib/router.svelte";

export const routes: RouteDef[] = [
  { path: "/staff", load: () => import("./Console.svelte"), roles: ["staff", "admin"], title: "Staff console" },
];

export const nav: NavItem[] = [{ href: "/staff", label: "Staff", roles: ["staff", "admin"], order: 90 }];
