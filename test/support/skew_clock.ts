/**
 * Preload (`node --import ./test/support/skew_clock.ts ...`) that shifts the
 * process's wall clock by `WHIRLPOOL_TEST_CLOCK_SKEW_MS` (may be negative):
 * `Date.now()` and `new Date()` without arguments. Used by the chaos suite to
 * check that lease decisions never depend on an instance's clock (they use
 * the database's NOW(3) and the monotonic clock). `performance.now()` and
 * `performance.timeOrigin` are left alone, so serve/unserve event times
 * stay comparable across processes.
 *
 * @module
 */
const skew = Number(process.env.WHIRLPOOL_TEST_CLOCK_SKEW_MS ?? '0');
if (Number.isFinite(skew) && skew !== 0) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class SkewedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(realNow() + skew);
      else super(...(args as [string | number | Date]));
    }
    static override now(): number {
      return realNow() + skew;
    }
  }
  globalThis.Date = SkewedDate as DateConstructor;
}
