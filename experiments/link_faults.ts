/**
 * `npm run test:faults`: the long fault-injection runs of the device link (test/link/faults.ts), with
 * figures. Malformed frames into the ASan/UBSan host build of the link server and, fewer, into the
 * emulated Cortex-M7 (QEMU mps2-an500); then INFERs and TRAIN_STEPs through a line that drops,
 * corrupts, duplicates and delays bytes at 1e-3 and 1e-2, to both. Prints the figures and writes
 * them to experiments/results/link_faults.json. Exits non-zero if anything crashed, hung or answered
 * wrong. `--quick` runs a tenth of it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QemuTransport } from '../src/emulate/qemu_transport.ts';
import { qemuBoardOf } from '../src/emulate/qemu.ts';
import { HostTransport } from '../src/link/host_transport.ts';
import { writeFileAtomic } from '../src/util/fs_atomic.ts';
import { buildFakeEngine } from '../test/link/fake_engine.ts';
import { cleanTraining, runFuzz, runLossy, type FuzzFigures, type LossyFigures, type Target } from '../test/link/faults.ts';
import { loadMps2Target, makeFirmware, writeMps2Project } from '../test/emulate/mps2_firmware.ts';

const quick = process.argv.includes('--quick');
const scale = (n: number) => Math.max(1, Math.round(quick ? n / 10 : n));
const OUT = path.join(path.dirname(new URL(import.meta.url).pathname), 'results', 'link_faults.json');

async function main(): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mcutrain-faults-'));
  try {
    const engine = path.join(dir, 'engine');
    await buildFakeEngine(engine);
    const host = async (): Promise<Target> => {
      const t = await HostTransport.start(engine);
      return { transport: t, stderr: () => t.stderr };
    };
    const board = loadMps2Target('mps2-an500');
    const fw = path.join(dir, 'mps2-an500');
    writeMps2Project(fw, board, { linkServer: true });
    const made = await makeFirmware(fw);
    if (!made.ok) throw new Error(`building the mps2-an500 link firmware failed:\n${made.log}`);
    const qemu = async (): Promise<Target> => ({ transport: await QemuTransport.start({ ...qemuBoardOf(board), kernel: made.elf }), stderr: () => '' });

    const fuzz: FuzzFigures[] = [];
    const lossy: LossyFigures[] = [];
    const started = Date.now();
    fuzz.push(await runFuzz('host (ASan/UBSan)', host, scale(5000), 1, 1000));
    report('fuzz', fuzz.at(-1)!);
    fuzz.push(await runFuzz('emulated mps2-an500 (QEMU)', qemu, scale(600), 2, 3000));
    report('fuzz', fuzz.at(-1)!);
    const plan: [string, () => Promise<Target>, number, number, number, number][] = [
      ['host (ASan/UBSan)', host, 1e-3, scale(30), scale(100), 400],
      ['host (ASan/UBSan)', host, 1e-2, scale(4), scale(30), 400],
      ['emulated mps2-an500 (QEMU)', qemu, 1e-3, scale(10), scale(40), 1500],
      ['emulated mps2-an500 (QEMU)', qemu, 1e-2, scale(2), scale(12), 1500],
    ];
    for (const [name, open, rate, infers, steps, timeoutMs] of plan) {
      const reference = await open();
      const clean = await cleanTraining(reference, 11, steps);
      await reference.transport.close().catch(() => undefined);
      const target = await open();
      lossy.push(await runLossy(name, target, clean, { rate, seed: 11, infers, steps, timeoutMs, rounds: 3 }));
      await target.transport.close().catch(() => undefined);
      report('lossy', lossy.at(-1)!);
    }
    const bad = fuzz.some((f) => f.crashed + f.sanitizerReports + f.hung + f.silentWrong > 0 || !f.afterwards.hello || !f.afterwards.inferCorrect) ||
      lossy.some((l) => l.infer.silentWrong + l.infer.hung + l.train.silentWrong + l.train.hung > 0 || l.train.paramsMatchClean === false);
    const result = { quick, elapsedSeconds: Math.round((Date.now() - started) / 1000), ok: !bad, fuzz, lossy };
    if (!quick) writeFileAtomic(OUT, `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result));
    console.log(quick ? '(--quick: figures not written)' : `wrote ${OUT}`);
    return bad ? 1 : 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(kind: string, f: FuzzFigures | LossyFigures): void {
  if ('tried' in f) {
    console.log(`${kind} ${f.target}: ${f.tried} frames, ${f.crashed} crashed, ${f.sanitizerReports} sanitizer reports, ${f.hung} hung, ` +
      `${f.silentWrong} silent wrong, ${f.cleanError} clean errors, ${f.ignored} ignored, ${f.accepted} accepted; ` +
      `afterwards HELLO ${f.afterwards.hello ? 'ok' : 'FAILED'}, INFER ${f.afterwards.inferCorrect ? 'correct' : 'WRONG'}`);
  } else {
    console.log(`${kind} ${f.target} at ${f.rate}: INFER ${f.infer.tried} tried, ${f.infer.correct} correct, ${f.infer.cleanError} clean errors, ` +
      `${f.infer.silentWrong} silent wrong, ${f.infer.hung} hung; TRAIN_STEP ${f.train.tried} tried, ${f.train.confirmed} confirmed, ` +
      `${f.train.cleanError} clean errors, ${f.train.silentWrong} silent wrong, ${f.train.hung} hung, params = clean run: ${f.train.paramsMatchClean}`);
  }
}

process.exit(await main());
