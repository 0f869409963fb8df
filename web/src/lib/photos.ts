// Which variant to show where. Variants (longest edge): thumb 256, medium 1024, large 2048, watermarked (large
// with the mark), preview (blurred, <= 640, for locked premium items), and for video poster/stream.
// Grids use thumb only (with medium as the 2x candidate only where the cell is large): never `large` in a grid.
import type { components } from "./api/client";

export type Photo = components["schemas"]["PhotoOut"];

const WIDTH: Record<string, number> = { thumb: 256, medium: 1024, large: 2048, watermarked: 2048, preview: 640 };

/** `src` for a grid cell: thumb; a locked photo's preview; a video's poster (its `preview` is a clip, not an image). */
export function gridImage(urls: Record<string, string>, kind: string = "photo"): { src: string; srcset?: string } | null {
  const src =
    kind === "video" ? (urls.thumb ?? urls.poster ?? urls.preview_poster) : (urls.thumb ?? urls.preview ?? urls.poster);
  return src ? { src } : null;
}

/** `src` + `srcset` + `sizes` for the photo page: the browser picks medium or large for the screen. */
export function fullImage(urls: Record<string, string>): { src: string; srcset: string; sizes: string } | null {
  const order = ["thumb", "medium", "large"].filter((v) => urls[v]);
  if (!order.length) {
    const one = urls.watermarked ?? urls.preview ?? urls.poster;
    return one ? { src: one, srcset: `${one} ${WIDTH.watermarked}w`, sizes: "100vw" } : null;
  }
  if (urls.watermarked && !urls.large) order.push("watermarked");
  const srcset = order.map((v) => `${urls[v]} ${WIDTH[v]}w`).join(", ");
  return { src: urls.medium ?? urls[order[order.length - 1]], srcset, sizes: "(max-width: 1100px) 100vw, 1100px" };
}
