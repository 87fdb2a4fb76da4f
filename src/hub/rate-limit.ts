// Per-key rate limits for the hub's public-facing listeners (heartbeat pushes): a token
// bucket per key, `count` requests per `windowMs`, refilled smoothly, so a job in a loop is
// cut to the rate and a job that pauses gets its burst back. The clock is a parameter (tests
// pass their own). Keys come from outside (addresses), so the table is bounded: keys whose
// bucket is full again are forgotten first, then the least recently used.
export interface RateLimit {
  count: number;
  windowMs: number;
}

const DEFAULT_MAX_KEYS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly maxKeys = DEFAULT_MAX_KEYS,
  ) {}

  /** Takes one request from `key`'s budget: false (and nothing taken) when it is spent. */
  take(key: string, now: number): boolean {
    const bucket = this.current(key, now);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Whether `key` has a request left, without taking it. */
  allows(key: string, now: number): boolean {
    return this.current(key, now).tokens >= 1;
  }

  private refilled(bucket: Bucket, now: number): number {
    const elapsed = Math.max(0, now - bucket.at);
    return Math.min(
      this.limit.count,
      bucket.tokens + (elapsed * this.limit.count) / this.limit.windowMs,
    );
  }

  private current(key: string, now: number): Bucket {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) this.evict(now);
      bucket = { tokens: this.limit.count, at: now };
    }
    bucket.tokens = this.refilled(bucket, now);
    bucket.at = now;
    // Re-inserted: the Map's order is least recently used first.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    return bucket;
  }

  /** Frees a tenth of the table at once, so a flood of new keys does not scan it each time. */
  private evict(now: number): void {
    const target = Math.floor(this.maxKeys * 0.9);
    for (const [key, bucket] of this.buckets)
      if (this.refilled(bucket, now) >= this.limit.count) this.buckets.delete(key);
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= target) break;
      this.buckets.delete(key);
    }
  }
}
