/**
 * The link stages a sample straight into the arena's input tensor between invocations (zero-copy samples,
 * docs/protocol.md), which is sound only if the generated engine keeps nothing in its arena from one call to
 * the next: trained parameters, momentum and hyperparameters live outside it. Checked on real generated code
 * (micro_speech with a scheme that trains weights with momentum; MCUNet-5FPS with the 49 KB scheme): a harness
 * that includes model.c fills the whole arena with garbage before every call and must learn the same bytes as
 * without; garbage written after the input, over live data, must change them (so the check can fail).
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeTflite } from '../../src/export/write_tflite.ts';
import { buildZooModel } from '../../src/zoo/zoo.ts';
import { compileModel } from '../../src/project/compile_project.ts';
import { model, tempDir } from '../helpers/paths.ts';
import { runOk } from '../helpers/run.ts';

const work = tempDir('arena-between-calls');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Steps, an inference after every step, then the learned bytes: all as hex lines, for a run in one of three modes. */
const HARNESS = String.raw`
#include "model.c"
#include <stdio.h>
#include <string.h>

uint32_t mt_platform_ticks(void) { return 0; }

static void fill(unsigned char *p, uint32_t n, uint32_t seed) {
  for (uint32_t i = 0; i < n; i++) { seed = seed * 1103515245u + 12345u; p[i] = (unsigned char)(seed >> 16); }
}

static void hex(const void *p, uint32_t n) {
  const unsigned char *b = (const unsigned char *)p;
  for (uint32_t i = 0; i < n; i++) printf("%02x", b[i]);
  printf("\n");
}

/* mode 0: as the link runs it; 1: garbage over the whole arena before each call; 2: garbage after the input too. */
int main(int argc, char **argv) {
  const int mode = argc > 1 ? argv[1][0] - '0' : 0;
  const mt_train_desc *t = mt_model.train;
  *t->momentum = 0.5f;
  for (uint32_t k = 0; k < 6; k++) {
    if (mode >= 1) fill(mt_arena, sizeof mt_arena, 977u * k + 1u);
    fill(t->input, t->input_bytes, k);
    if (mode == 2) fill(mt_arena, sizeof mt_arena, 31u * k + 7u);
    mt_train_result r;
    t->step((int32_t)(k % t->n_classes), 1, &r);
    hex(&r.loss, sizeof r.loss);
    if (mode >= 1) fill(mt_arena, sizeof mt_arena, 577u * k + 3u);
    fill(mt_model.inputs[0].data, mt_model.inputs[0].bytes, 100u + k);
    mt_model_invoke(NULL);
    hex(mt_model.outputs[0].data, mt_model.outputs[0].bytes);
  }
  for (uint16_t i = 0; i < t->n_params; i++) {
    hex(t->params[i].data, t->params[i].bytes);
    if (t->params[i].momentum) hex(t->params[i].momentum, 4u * t->params[i].momentum_floats);
  }
  return 0;
}
`;

/** Compiles `modelPath` for the host with `scheme` and builds the harness around it (ASan/UBSan); its path. */
async function harness(name: string, modelPath: string, scheme: string): Promise<string> {
  const dir = path.join(work, name);
  compileModel({ modelPath, target: 'host', outDir: dir, train: { scheme } });
  writeFileSync(path.join(dir, 'harness.c'), HARNESS);
  await runOk('sh', ['-c', `cd '${dir}' && cc -std=c99 -Wall -Wextra -Werror -O2 -ffp-contract=off -g -fsanitize=address,undefined ` +
    `-fno-sanitize-recover=all -Iruntime/include -I. harness.c model_weights.c runtime/kernels/*.c -lm -o harness`]);
  return path.join(dir, 'harness');
}

/** Runs the harness in its three modes: as the link runs it, with garbage before each call, with garbage over live data. */
async function runModes(engine: string) {
  const [clean, poisoned, clobbered] = await Promise.all(['0', '1', '2'].map((mode) => runOk(engine, [mode])));
  expect(clean.out.trim().split('\n').length).toBeGreaterThan(12); // 6 losses, 6 outputs, then params (and momentum)
  expect(poisoned.out).toBe(clean.out);
  expect(clobbered.out).not.toBe(clean.out);
}

describe('the generated engine between calls', () => {
  it('keeps nothing in its arena: garbage there before each call changes no loss, output or learned byte', async () => {
    await runModes(await harness('micro_speech', model('micro_speech_int8.tflite'), 'weights:layers=-1,-2@1/2,bias:last=2,momentum=0.5'));
  }, 10 * 60_000);

  it('nor on issue 11\'s workload, MCUNet-5FPS with TinyEngine\'s 49 KB scheme', async () => {
    const file = path.join(work, 'mcunet-5fps.tflite');
    writeFileSync(file, writeTflite(await buildZooModel('mcunet-5fps', { int8: true })));
    await runModes(await harness('mcunet', file, 'bias:last=21,weights:layers=24@1/4,27,30@1/2,42'));
  }, 20 * 60_000);
});
