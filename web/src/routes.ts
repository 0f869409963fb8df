// Every screen area's routes and nav entries. Each area owns `screens/<area>/routes.ts`.
import type { NavItem, RouteDef } from "./lib/router.svelte";
import * as account from "./screens/account/routes";
import * as creators from "./screens/creators/routes";
import * as events from "./screens/events/routes";
import * as home from "./screens/home/routes";
import * as inbox from "./screens/inbox/routes";
import * as photos from "./screens/photos/routes";
import * as shop from "./screens/shop/routes";
import * as staff from "./screens/staff/routes";
import * as studio from "./screens/studio/routes";

const areas = [account, home, events, photos, inbox, shop, studio, creators, staff];

export const routes: RouteDef[] = areas.flatMap((a) => a.routes);
export const nav: NavItem[] = areas.flatMap((a) => a.nav).sort((x, y) => (x.order ?? 50) - (y.order ?? 50));
