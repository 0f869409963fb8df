import type { NavItem, RouteDef } from "../../lib/router.svelte";

export const routes: RouteDef[] = [
  { path: "/events", load: () => import("./Events.svelte"), title: "Events" },
  { path: "/events/new", load: () => import("./EventForm.svelte"), title: "New event" },
  { path: "/events/:event_id/edit", load: () => import("./EventForm.svelte"), title: "Edit event" },
  { path: "/events/:event_id/upload", load: () => import("./Upload.svelte"), title: "Upload photos" },
  { path: "/events/:event_id", load: () => import("./Event.svelte"), auth: false, title: "Event" },
  { path: "/invitations", load: () => import("./Invitations.svelte"), title: "Invitations" },
];

export const nav: NavItem[] = [
  { href: "/events", label: "Events", order: 20 },
  { href: "/invitations", label: "Invitations", order: 21 },
];
