import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Budgets only a hang exhausts: every wait in the tests ends on an event, and a loaded 2-core
    // machine makes builds of the reference models take minutes.
    testTimeout: 600_000,
    hookTimeout: 900_000,
    teardownTimeout: 60_000,
    // Tests drive real engines, QEMU and ptys from native code: separate processes, one file each.
    pool: 'forks',
    // Reports synchronous work that blocks a worker long enough to time out vitest's RPC.
    setupFiles: ['test/helpers/loop_watch.ts'],
    // The pipeline checks every pass's output (src/pipeline/verify.ts) in every test, CLI runs included.
    env: { MCUTRAIN_VERIFY: '1' },
  },
});
