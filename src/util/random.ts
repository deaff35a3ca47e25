/** The seeds seededUniform tells apart (it takes the low 32 bits): what a --seed may be. */
export const SEED_RANGE = { integer: true, min: 0, max: 0xffffffff } as const;

/** mulberry32: a small, fast, seeded generator (uniform in [0, 1)); the one source of reproducible randomness. */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
