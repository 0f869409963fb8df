import type { NavItem, RouteDef } from "../../lib/router.svelte";

const roles = ["photographer"];

export const routes: RouteDef[] = [
  { path: "/studio", load: () => import("./Dashboard.svelte"), roles, title: "Studio" },
  { path: "/studio/clients", load: () => import("./Clients.svelte"), roles, title: "Clients" },
  { path: "/studio/price-sheets", load: () => import("./PriceSheets.svelte"), roles, title: "Price sheets" },
  { path: "/studio/orders", load: () => import("./SalesOrders.svelte"), roles, title: "Sales" },
];

export const nav: NavItem[] = [{ href: "/studio", label: "Studio", roles, order: 65 }];
