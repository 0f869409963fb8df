import { describe, expect, it } from "vitest";
import { PRINT_STEPS, statusWord } from "./shop";

describe("statusWord", () => {
  it("names order and item states in words", () => {
    expect(statusWord("awaiting_payment")).toBe("Awaiting payment");
    expect(statusWord("submitted")).toBe("Sent to the lab");
    expect(statusWord("available")).toBe("Ready to download");
  });
  it("keeps an unknown state readable and an absent one empty", () => {
    expect(statusWord("on_hold_somewhere")).toBe("on hold somewhere");
    expect(statusWord(null)).toBe("");
  });
  it("orders the print steps from pending to delivered", () => {
    expect(PRINT_STEPS[0]).toBe("pending");
    expect(PRINT_STEPS.at(-1)).toBe("delivered");
    expect(PRINT_STEPS.indexOf("shipped")).toBeGreaterThan(PRINT_STEPS.indexOf("in_production"));
  });
});
