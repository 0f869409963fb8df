// restore() at start: no session -> the login screen; the API down -> an error (never a silent logout).
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "./api/errors";

const fake = vi.hoisted(() => ({
  refresh: null as null | (() => Promise<string | null>),
  me: { id: "u1", username: "ann", role: "member" },
}));

vi.mock("./api/client", () => ({
  tokens: { refresh: () => fake.refresh!(), set: () => {}, onExpired: () => {} },
  api: { GET: async () => ({ data: fake.me, response: new Response("{}", { status: 200 }) }) },
  ok: (o: { data: unknown }) => o.data,
}));
vi.mock("./router.svelte", () => ({ navigate: () => {}, router: { path: "/" } }));
vi.mock("./config", () => ({ apiBase: () => "http://api" }));

const { restore, session } = await import("./session.svelte");

describe("restore", () => {
  beforeEach(() => {
    session.user = null;
    session.ready = false;
  });

  it("a session cookie becomes the user", async () => {
    fake.refresh = async () => "a1";
    await restore();
    expect(session).toMatchObject({ ready: true, user: { username: "ann" } });
  });

  it("no session: ready, nobody logged in, no error (the login screen)", async () => {
    fake.refresh = async () => null;
    await expect(restore()).resolves.toBeUndefined();
    expect(session).toMatchObject({ ready: true, user: null });
  });

  it("the API down at start: rejects with that error for the shell to show", async () => {
    fake.refresh = async () => {
      throw new ApiError(503, "unavailable", "Lightbox is briefly unavailable.");
    };
    await expect(restore()).rejects.toMatchObject({ status: 503 });
    expect(session.ready).toBe(true);
    fake.refresh = async () => {
      throw new TypeError("Failed to fetch");
    };
    await expect(restore()).rejects.toBeInstanceOf(TypeError);
  });
});
