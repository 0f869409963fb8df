import type { NavItem, RouteDef } from "../../lib/router.svelte";

export const routes: RouteDef[] = [];

export const nav: NavItem[] = [];
