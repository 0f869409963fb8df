import type { NavItem, RouteDef } from "../../lib/router.svelte";

export const routes: RouteDef[] = [
  { path: "/gallery", load: () => import("./Gallery.svelte"), title: "My gallery" },
  { path: "/cart", load: () => import("./Cart.svelte"), title: "Cart" },
  { path: "/checkout", load: () => import("./Checkout.svelte"), title: "Checkout" },
  { path: "/orders", load: () => import("./Orders.svelte"), title: "Orders" },
  { path: "/orders/:order_id", load: () => import("./Order.svelte"), title: "Order" },
];

// Anyone may be a photographer's client (the buyer is any verified user), so these show for every role.
export const nav: NavItem[] = [
  { href: "/gallery", label: "Gallery", order: 60 },
  { href: "/cart", label: "Cart", order: 61 },
  { href: "/orders", label: "Orders", order: 62 },
];
