/**
 * Transform streams for request bodies that are streamed upstream (never buffered whole): a byte counter that
 * enforces `maxBodyBytes`, the form filter and the multipart scanner. Each reports its failure through `onFailure`
 * before erroring the stream, because `fetch` rejects with its own error when a request body fails, and the
 * handler must still answer 413/400/403 rather than 502.
 *
 * @module
 */
import { BrokerError } from "../errors.ts";
import { FormFilter, type FormFilterOptions } from "./form_filter.ts";
import { MultipartScanner, type MultipartScannerOptions } from "./multipart_scanner.ts";

/** Receives the error that ended a request body stream. */
export type BodyFailureHandler = (error: BrokerError) => void;

function _asBrokerError(error: unknown): BrokerError {
  return error instanceof BrokerError
    ? error
    : new BrokerError("ERR_INVALID_REQUEST", "Malformed request body");
}

function _guarded(
  onFailure: BodyFailureHandler,
  transform: (chunk: Uint8Array, controller: TransformStreamDefaultController<Uint8Array>) => void,
  flush?: (controller: TransformStreamDefaultController<Uint8Array>) => void,
): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      try {
        transform(chunk, controller);
      } catch (error) {
        const failure = _asBrokerError(error);
        onFailure(failure);
        throw failure;
      }
    },
    flush(controller) {
      try {
        flush?.(controller);
      } catch (error) {
        const failure = _asBrokerError(error);
        onFailure(failure);
        throw failure;
      }
    },
  });
}

/** Counts bytes and fails with `ERR_BODY_TOO_LARGE` once more than `maxBytes` went through. */
export function createBodyLimitStream(
  maxBytes: number,
  onFailure: BodyFailureHandler,
): TransformStream<Uint8Array, Uint8Array> {
  let total = 0;
  return _guarded(onFailure, (chunk, controller) => {
    total += chunk.byteLength;
    if (total > maxBytes) throw new BrokerError("ERR_BODY_TOO_LARGE", "Request body too large");
    controller.enqueue(chunk);
  });
}

/** Runs a streamed `application/x-www-form-urlencoded` body through a {@link FormFilter}. */
export function createFormFilterStream(
  options: FormFilterOptions,
  onFailure: BodyFailureHandler,
): TransformStream<Uint8Array, Uint8Array> {
  const filter = new FormFilter(options);
  return _guarded(onFailure, (chunk, controller) => {
    const out = filter.push(chunk);
    if (out.length > 0) controller.enqueue(out);
  }, (controller) => {
    const out = filter.finish();
    if (out.length > 0) controller.enqueue(out);
  });
}

/** Passes a streamed `multipart/form-data` body on unchanged while a {@link MultipartScanner} checks it. */
export function createMultipartCheckStream(
  options: MultipartScannerOptions,
  onFailure: BodyFailureHandler,
): TransformStream<Uint8Array, Uint8Array> {
  const scanner = new MultipartScanner(options);
  return _guarded(onFailure, (chunk, controller) => {
    scanner.push(chunk);
    controller.enqueue(chunk);
  }, () => scanner.finish());
}
