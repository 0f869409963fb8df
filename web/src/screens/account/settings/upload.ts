// Wait for an uploaded photo to be processed (the avatar must be a ready photo): poll with backoff.
import { api, ok } from "../../../lib/api/client";

export async function waitUntilReady(photoId: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let wait = 400;
  for (;;) {
    const photo = ok(await api.GET("/photos/{photo_id}", { params: { path: { photo_id: photoId } } }));
    if (photo.status === "ready") return;
    if (photo.status === "rejected") throw new Error(photo.rejection_reason || "That photo was rejected.");
    if (Date.now() > deadline) throw new Error("The photo is still processing. Try again in a moment.");
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(3000, wait * 1.5);
  }
}
