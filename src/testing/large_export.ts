/**
 * The pull-based large export stream of the fake (`MapServer/exportLarge?bytes=N`), for streaming and
 * backpressure tests: nothing is produced before the consumer asks, and progress is recorded.
 *
 * @module
 */
import type { FakeStreamRecord } from "./types.ts";
import { pattern, PNG_SIGNATURE } from "./_binary.ts";

/**
 * The byte at `position` of a large export: the PNG signature, then `position & 0xff`.
 *
 * @param position Offset from the start of the export, bytes.
 * @returns The byte the fake sends there, so a test can check a streamed body without keeping it.
 */
export function largeExportByteAt(position: number): number {
  return position < PNG_SIGNATURE.length ? PNG_SIGNATURE[position] : position & 0xff;
}

/**
 * A pull-based stream of `record.totalBytes` bytes in `record.chunkBytes` chunks. It produces one chunk per pull
 * (high-water mark 0: nothing is produced before the consumer asks) and updates `record` as it goes.
 */
export function createLargeExportStream(record: FakeStreamRecord): ReadableStream<Uint8Array> {
  const template = pattern(record.chunkBytes + 256);
  let produced = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller): void {
      if (produced >= record.totalBytes) {
        record.done = true;
        controller.close();
        return;
      }
      const size = Math.min(record.chunkBytes, record.totalBytes - produced);
      const start = produced & 0xff;
      const chunk = template.slice(start, start + size);
      if (produced < PNG_SIGNATURE.length) {
        for (let i = produced; i < Math.min(PNG_SIGNATURE.length, produced + size); i++) {
          chunk[i - produced] = PNG_SIGNATURE[i];
        }
      }
      produced += size;
      record.pulledChunks++;
      record.pulledBytes += size;
      controller.enqueue(chunk);
      if (produced >= record.totalBytes) {
        record.done = true;
        controller.close();
      }
    },
    cancel(): void {
      record.cancelled = true;
    },
  }, { highWaterMark: 0 });
}
