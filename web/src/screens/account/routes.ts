import type { NavItem, RouteDef } from "../../lib/router.svelte";

export const routes: RouteDef[] = [
  { path: "/login", load: () => import("./Login.svelte"), auth: "anon", title: "Log in" },
  { path: "/signup", load: () => import("./Signup.svelte"), auth: "anon", title: "Sign up" },
];

export const nav: NavItem[] = [];
