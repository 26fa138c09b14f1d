/**
 * V8 flags the container image runs the connector with (Dockerfile ENTRYPOINT; the memory
 * benchmark uses them too). A tenant's rows arrive no faster than Graph's budget allows (200
 * pages of 1,000 rows a minute, ~3,300 rows/s), so the image trades speed the connector cannot
 * use for memory: `--optimize-for-size` keeps V8's heaps close to what is live. Measured with
 * `npm run bench -- --only memory`: see bench/results/RESULTS.md; `npx pstn-connector` runs
 * without them (catch-up and benchmarks at full speed).
 */
export const IMAGE_NODE_FLAGS: readonly string[] = ["--optimize-for-size"];

/**
 * Environment the container image sets for the connector (Dockerfile `ENV`; the memory benchmark
 * sets it too). glibc gives threads that allocate at once (libuv's pool compressing batches, the
 * page decoder's thread) arenas of their own, and pages freed in an arena stay in the process's
 * RSS; two arenas keep that bounded at no cost the connector can feel.
 */
export const IMAGE_ENVIRONMENT: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2" };
