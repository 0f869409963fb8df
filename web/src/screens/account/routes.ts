import type { NavItem, RouteDef } from "../../lib/router.svelte";

export const routes: RouteDef[] = [
  { path: "/login", load: () => import("./Login.svelte"), auth: "anon", title: "Log in" },
  { path: "/signup", load: () => import("./Signup.svelte"), auth: "anon", title: "Sign up" },
  { path: "/password/forgot", load: () => import("./Forgot.svelte"), auth: false, title: "Reset password" },
  { path: "/password/reset", load: () => import("./Forgot.svelte"), auth: false, title: "Reset password" },
  { path: "/settings", load: () => import("./Settings.svelte"), title: "Settings" },
];

export const nav: NavItem[] = [];
