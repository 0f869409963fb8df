// The upload queue's real transport: the bulk-upload request through the typed API client, each file's S3
// presigned form POST with XMLHttpRequest (fetch has no upload progress), and `GET /photos/{id}` for its state.
import { api, idem, ok } from "../../lib/api/client";
import type { PhotoState, Reserved, Slot, UploadTransport } from "../../lib/uploads";

/** `published()`: whether the files reserved now are published at once (false: drafts only their owner sees). */
export function eventTransport(eventId: string, published: () => boolean = () => true): UploadTransport<File> {
  return {
    async reserve(files: File[], key: string): Promise<Reserved[]> {
      const out = ok(
        await api.POST("/events/{event_id}/photos/bulk-upload", {
          params: { path: { event_id: eventId }, header: idem(key) },
          body: { files: files.map((f) => ({
            filename: f.name,
            content_type: f.type,
            size: f.size,
            caption: null,
            tags: [],
            access: null,
            price_cents: null,
            currency: null,
            published: published(),
          })) },
        }),
      );
      return out.uploads;
    },
    send: s3Post,
    async status(photoId: string): Promise<PhotoState> {
      return ok(await api.GET("/photos/{photo_id}", { params: { path: { photo_id: photoId } } }));
    },
  };
}

/** A form POST of the policy's fields, then the file (S3 wants the file last), with upload progress. */
export function s3Post(slot: Slot, file: File, onProgress: (loaded: number, total: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(slot.fields)) form.append(k, v);
    form.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", slot.url);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else {
        const msg = /<Message>([^<]*)<\/Message>/.exec(xhr.responseText || "")?.[1];
        reject(new Error(`The upload failed (${xhr.status})${msg ? `: ${msg}` : ""}.`));
      }
    };
    xhr.onerror = () => reject(new Error("The upload was interrupted: check your connection and retry."));
    xhr.ontimeout = () => reject(new Error("The upload timed out: retry."));
    xhr.send(form);
  });
}
