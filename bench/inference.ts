/**
 * The inference section of the benchmark: for every int8 reference model, compile time, planned SRAM
 * (arena and its lower bound), Flash, MACs, host latency, and instructions per inference on the
 * emulated Cortex-M7, portable C vs DSP kernels.
 */
import path from 'node:path';
import { compileModel } from '../src/project/compile_project.ts';
import { formatTable } from '../src/util/table.ts';
import { inputBytesOf, ticksPerInference, withDevice } from './emulated.ts';

export const INFERENCE_MODELS = ['hello_world_int8.tflite', 'micro_speech_int8.tflite', 'ad01_int8.tflite', 'vww96_int8.tflite', 'person_detect_int8.tflite'];

export interface InferenceRow {
  model: string;
  macs: number;
  compileMs: number;
  arenaBytes: number;
  lowerBoundBytes: number;
  flashConstBytes: number;
  hostNsPerInference: number;
  m7PortableInstructionsPerInference: number;
  m7DspInstructionsPerInference: number;
}

export async function measureInference(modelsDir: string, file: string, work: string): Promise<InferenceRow> {
  const modelPath = path.join(modelsDir, file);
  const started = performance.now();
  const host = compileModel({ modelPath, target: 'host', outDir: path.join(work, `${file}-host`) });
  const compileMs = performance.now() - started;
  const board = compileModel({ modelPath, target: 'mps2-an500', outDir: path.join(work, `${file}-m7`) });
  const m = host.manifest;
  const inputBytes = inputBytesOf(m);
  return {
    model: file,
    macs: m.macs,
    compileMs: Math.round(compileMs),
    arenaBytes: m.arenaBytes,
    lowerBoundBytes: m.lowerBoundBytes,
    flashConstBytes: m.constBytes,
    hostNsPerInference: await withDevice(host.outDir, m, false, (d) => ticksPerInference(d, inputBytes)),
    m7PortableInstructionsPerInference: await withDevice(board.outDir, board.manifest, true, (d) => ticksPerInference(d, inputBytes)),
    m7DspInstructionsPerInference: await withDevice(board.outDir, board.manifest, false, (d) => ticksPerInference(d, inputBytes)),
  };
}

const n = (x: number) => x.toLocaleString('en-US');

export function formatInference(rows: InferenceRow[]): string {
  return formatTable(
    ['model', 'MACs', 'compile ms', 'arena B', 'lower bound B', 'Flash const B', 'host µs/inf', 'M7 instr portable', 'M7 instr DSP', 'DSP instr/MAC'],
    rows.map((r) => [r.model, n(r.macs), n(r.compileMs), n(r.arenaBytes), n(r.lowerBoundBytes), n(r.flashConstBytes),
      (r.hostNsPerInference / 1000).toFixed(1), n(r.m7PortableInstructionsPerInference), n(r.m7DspInstructionsPerInference),
      (r.m7DspInstructionsPerInference / r.macs).toFixed(2)]),
    new Set([1, 2, 3, 4, 5, 6, 7, 8, 9]));
}
