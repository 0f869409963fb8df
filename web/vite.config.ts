// The web app's build. `make web` generates src/lib/api/schema.d.ts from the API's own OpenAPI document first,
// so `make lint` (svelte-check) fails when a route the app uses changes.
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [svelte()],
  build: {
    target: "es2022",
    outDir: "dist",
    assetsDir: "assets", // hashed names: served with a year's cache; index.html is never cached
    sourcemap: false,
    modulePreload: { polyfill: false }, // the polyfill is an inline script, which the CSP forbids
    reportCompressedSize: false,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
