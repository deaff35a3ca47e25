/**
 * A trained tensor's gradient as the engine leaves it and as the float oracle gives it, in one layout:
 * the engine's is read from the momentum buffer after one step at lr 0 (m = g, QAS-scaled).
 */
import type { TrainParamInfo } from '../../src/project/manifest.ts';

/** The real gradient of each element of a trained tensor, from the QAS-scaled one the momentum buffer holds after one step. */
export function realGradient(p: TrainParamInfo, scaled: Float32Array, weightScales: number[], inputScale: number, opKind: string): Float32Array {
  const out = new Float32Array(scaled.length);
  const perChannel = p.kind === 'bias' ? 1 : scaled.length / p.channels;
  for (let i = 0; i < scaled.length; i++) {
    const c = p.kind === 'bias' ? i : opKind === 'DEPTHWISE_CONV_2D' ? i % p.channels : Math.floor(i / perChannel);
    const s = weightScales.length > 1 ? weightScales[c] : weightScales[0];
    out[i] = scaled[i] * (p.kind === 'bias' ? s * inputScale : s); // QAS: g = G / s
  }
  return out;
}

/** The oracle's gradient restricted to the trained channels, in the momentum buffer's layout. */
export function trainedPart(p: TrainParamInfo, full: Float32Array, opKind: string): Float32Array {
  if (p.channels === p.totalChannels) return full;
  if (opKind !== 'DEPTHWISE_CONV_2D') return full.slice(0, p.momentumFloats);
  const out = new Float32Array(p.momentumFloats);
  for (let i = 0, j = 0; i < full.length; i++) if (i % p.totalChannels < p.channels) out[j++] = full[i];
  return out;
}
