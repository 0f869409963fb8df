import { describe, expect, it, vi } from "vitest";

vi.stubGlobal("location", new URL("http://app/"));
const { matcher, safeNext } = await import("./router.svelte");

const load = async () => ({ default: (() => {}) as never });

describe("matcher", () => {
  const match = matcher([
    { path: "/events", load, title: "Events" },
    { path: "/events/:event_id", load, title: "Event" },
    { path: "/events/:event_id/upload", load, title: "Upload" },
  ]);
  it("matches params, decoded", () => {
    expect(match("/events/ev%201")?.params).toEqual({ event_id: "ev 1" });
    expect(match("/events/e1/upload")?.route.title).toBe("Upload");
    expect(match("/events/")?.route.title).toBe("Events");
  });
  it("misses unknown paths", () => {
    expect(match("/nope")).toBeNull();
    expect(match("/events/a/b")).toBeNull();
  });
});

describe("safeNext", () => {
  it("keeps paths within the app and refuses other sites", () => {
    expect(safeNext("/events/e1?tab=x", "http://app")).toBe("/events/e1?tab=x");
    expect(safeNext(null, "http://app")).toBe("/");
    expect(safeNext("https://evil.example/x", "http://app")).toBe("/");
    expect(safeNext("//evil.example/x", "http://app")).toBe("/");
    expect(safeNext("/\\evil.example/x", "http://app")).toBe("/");
  });
});
