import { describe, expect, it } from "vitest";
import { toCents } from "./format";

describe("toCents", () => {
  it("parses amounts into integer minor units", () => {
    expect(toCents("12.5")).toBe(1250);
    expect(toCents("12,05")).toBe(1205);
    expect(toCents("7")).toBe(700);
    expect(toCents("500", "jpy")).toBe(500);
  });
  it("refuses what is not an amount", () => {
    expect(toCents("-1")).toBeNull();
    expect(toCents("1.234")).toBeNull();
    expect(toCents("abc")).toBeNull();
    expect(toCents("5.5", "jpy")).toBeNull();
  });
});
