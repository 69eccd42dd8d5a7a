/**
 * Deadlines for in-flight upstream requests: a callback that runs `delayMs` after it was added unless it is
 * cancelled first. A timer per request costs more CPU than the rest of the proxy's bookkeeping on a small request
 * (Deno builds a Node-style `Timeout` for every `setTimeout`), so a shared queue keeps one timer for all of them:
 * every entry has the same delay, so insertion order is deadline order, and the one timer waits for the oldest
 * pending entry (it may fire early, find nothing due and wait again). When nothing is pending the timer is left to
 * run out, unreferenced so that it does not keep the process alive (Deno, Node), and referenced again when an entry
 * comes: one request at a time then does not arm and clear a timer each. Where timers cannot be unreferenced it
 * is cleared as soon as nothing is pending.
 *
 * A shared timer acts on requests other than the one that armed it, which Cloudflare Workers forbid (and a timer
 * of a finished request may never fire there): there, each deadline has its own timer.
 *
 * @module
 */

/** A pending deadline. */
export interface Deadline {
  /** Cancels the callback if it has not run yet; harmless afterwards. */
  cancel(): void;
}

/** Where deadlines of one delay are kept. */
export interface DeadlineQueue {
  /** Runs `callback` once the delay has passed, unless the returned deadline is cancelled first. */
  add(callback: () => void): Deadline;
}

/** The clock and timers a queue uses (injected in tests). */
export interface DeadlineClock {
  /** A monotonic clock, ms. */
  now(): number;
  /** Starts a timer. */
  setTimer(callback: () => void, delayMs: number): unknown;
  /** Stops a timer that has not fired. */
  clearTimer(timer: unknown): void;
  /**
   * Whether a pending `timer` keeps the process alive (`ref`/`unref`), when the platform can tell; true when it
   * did.
   */
  refTimer(timer: unknown, referenced: boolean): boolean;
}

const _PLATFORM_CLOCK: DeadlineClock = {
  now: () => performance.now(),
  setTimer: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimer: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
  refTimer: (timer, referenced) => {
    const method = (timer as { ref?: unknown; unref?: unknown } | null)?.[referenced ? "ref" : "unref"];
    if (typeof method !== "function") return false;
    method.call(timer);
    return true;
  },
};

interface _Entry extends Deadline {
  dueMs: number;
  callback: () => void;
}

class SharedDeadlines implements DeadlineQueue {
  readonly #delayMs: number;
  // A Set iterates in insertion order, which is deadline order: the first entry is due first.
  readonly #pending = new Set<_Entry>();
  readonly #clock: DeadlineClock;
  #timer: unknown;
  /** The timer runs out with nothing pending, unreferenced. */
  #idle = false;
  #firing = false;

  constructor(delayMs: number, clock: DeadlineClock) {
    this.#delayMs = delayMs;
    this.#clock = clock;
  }

  add(callback: () => void): Deadline {
    const entry: _Entry = {
      dueMs: this.#clock.now() + this.#delayMs,
      callback,
      cancel: () => {
        if (this.#pending.delete(entry) && this.#pending.size === 0 && this.#timer !== undefined) {
          if (this.#clock.refTimer(this.#timer, false)) {
            this.#idle = true;
          } else {
            this.#clock.clearTimer(this.#timer);
            this.#timer = undefined;
          }
        }
      },
    };
    this.#pending.add(entry);
    if (this.#idle) {
      // Armed for an earlier instant than this entry's: it fires early and waits again.
      this.#idle = false;
      this.#clock.refTimer(this.#timer, true);
    } else if (this.#timer === undefined && !this.#firing) {
      this.#arm(entry.dueMs);
    }
    return entry;
  }

  #arm(dueMs: number): void {
    this.#timer = this.#clock.setTimer(() => this.#fire(), Math.max(0, Math.ceil(dueMs - this.#clock.now())));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#idle = false;
    this.#firing = true;
    const nowMs = this.#clock.now();
    try {
      for (const entry of this.#pending) {
        if (entry.dueMs > nowMs) break;
        this.#pending.delete(entry);
        try {
          entry.callback();
        } catch {
          // One failing callback does not keep the others from running.
        }
      }
    } finally {
      this.#firing = false;
    }
    const next = this.#pending.values().next();
    if (!next.done) this.#arm(next.value.dueMs);
  }
}

class OwnTimers implements DeadlineQueue {
  readonly #delayMs: number;
  readonly #clock: DeadlineClock;

  constructor(delayMs: number, clock: DeadlineClock) {
    this.#delayMs = delayMs;
    this.#clock = clock;
  }

  add(callback: () => void): Deadline {
    const timer = this.#clock.setTimer(callback, this.#delayMs);
    return { cancel: () => this.#clock.clearTimer(timer) };
  }
}

/** A queue of deadlines `delayMs` after each `add`: on one shared timer, or on a timer each (Workers). */
export function createDeadlineQueue(
  delayMs: number,
  options: { shared: boolean; clock?: DeadlineClock },
): DeadlineQueue {
  const clock = options.clock ?? _PLATFORM_CLOCK;
  return options.shared ? new SharedDeadlines(delayMs, clock) : new OwnTimers(delayMs, clock);
}
