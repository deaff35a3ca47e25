/**
 * The training schemes the benchmark compares, chosen by fixed rules (the automatic, accuracy-driven
 * search is `mcutrain scheme`'s job, not the benchmark's): full update, bias-only, paper-style sparse
 * schemes under a memory budget (a greedy over a fixed ordering), and the paper's own 49 KB scheme for
 * MCUNet-5FPS. Every figure comes from the memory planner, never an estimate.
 */
import type { Graph } from '../src/ir/graph.ts';
import type { Analysis } from '../src/pipeline/pipeline.ts';
import { analyzeTraining } from '../src/train/analyze_training.ts';
import { DEFAULT_LR, parseScheme, type TrainingScheme, type WeightUpdate } from '../src/train/scheme.ts';
import { planTraining } from '../src/train/training_graph.ts';

export const BUDGETS_KIB = [50, 100, 150] as const;

/** Fraction of output channels trained in a pointwise convolution by the budget schemes (the classifier is trained whole). */
export const POINTWISE_FRACTION = 0.25;

export const BUDGET_RULE =
  'budget (KiB) >= memory = arena (inference or training, the larger) + trained parameters + momentum, planned with reordering on ' +
  'the schedule the engine picks for the classifier\'s bias alone (the patch-based early stage when it helps). Greedy over a fixed ' +
  'ordering: start from the classifier\'s bias; each round try (a) the bias of one more layer from the end, then (b) the weights ' +
  `of the next pointwise CONV_2D / FULLY_CONNECTED layer from the end (the classifier whole, pointwise at ${POINTWISE_FRACTION} of ` +
  'their output channels); a move is kept if the scheme still fits, and each kind of move stops at its first misfit or at the ' +
  'patch-based stage (whose activations never exist whole). A budget that even the classifier\'s bias exceeds is infeasible.';

export interface NamedScheme {
  name: string;
  scheme: TrainingScheme;
  /** How it was chosen. */
  rule: string;
}

const scheme = (biasLast: number, weights: WeightUpdate[]): TrainingScheme => ({ biasLast, weights, qas: true, momentum: 0, lr: DEFAULT_LR });

/** The weighted layers of the training graph, in order (what scheme layer indices count). */
export function weightedLayers(graph: Graph) {
  return planTraining(graph, scheme(1, [])).weightedLayers;
}

export function fullUpdate(graph: Graph): NamedScheme {
  const n = weightedLayers(graph).length;
  return { name: 'full update', scheme: scheme(n, Array.from({ length: n }, (_, layer) => ({ layer, fraction: 1 }))), rule: 'all weights and biases' };
}

export function biasOnly(graph: Graph): NamedScheme {
  return { name: 'bias-only', scheme: scheme(weightedLayers(graph).length, []), rule: 'all biases' };
}

export const classifierBias = (): TrainingScheme => scheme(1, []);

/** Memory of a scheme planned on the reference analysis's schedule (see BUDGET_RULE). */
function memoryBytes(reference: Analysis, s: TrainingScheme): number {
  const t = analyzeTraining(reference.graph, reference.schedule, s);
  return Math.max(reference.plan.arenaBytes, t.plan.arenaBytes) + t.paramBytes + t.momentumBytes;
}

/** The largest scheme the greedy of BUDGET_RULE reaches under `budgetKib`, or undefined when even the classifier's bias does not fit. */
export function budgetScheme(reference: Analysis, budgetKib: number): NamedScheme | undefined {
  const graph = reference.graph;
  const layers = weightedLayers(graph);
  const patched = new Set(reference.patches?.ops ?? []);
  const trainable = (layer: number) => !patched.has(layers[layer].id);
  const fits = (s: TrainingScheme) => memoryBytes(reference, s) <= budgetKib * 1024;
  // Weight candidates from the output back: the classifier (whole), then pointwise convolutions (a fraction).
  const candidates: WeightUpdate[] = [];
  for (let i = layers.length - 1; i >= 0; i--) {
    const op = layers[i];
    const w = graph.tensors[op.inputs[1]];
    if (op.kind === 'FULLY_CONNECTED') candidates.push({ layer: i, fraction: 1 });
    else if (op.kind === 'CONV_2D' && w.shape[1] === 1 && w.shape[2] === 1) candidates.push({ layer: i, fraction: POINTWISE_FRACTION });
  }
  let current = classifierBias();
  if (!fits(current)) return undefined;
  let biasOpen = true;
  let weightsOpen = true;
  while (biasOpen || weightsOpen) {
    if (biasOpen) {
      const next = scheme(current.biasLast + 1, current.weights);
      if (current.biasLast < layers.length && trainable(layers.length - 1 - current.biasLast) && fits(next)) current = next;
      else biasOpen = false;
    }
    if (weightsOpen) {
      const candidate = candidates[current.weights.length];
      const next = candidate && trainable(candidate.layer) ? scheme(current.biasLast, [...current.weights, candidate]) : undefined;
      if (next && fits(next)) current = next;
      else weightsOpen = false;
    }
  }
  return { name: `sparse ${budgetKib} KiB`, scheme: current, rule: `greedy under ${budgetKib} KiB (see budgetRule)` };
}

/** TinyEngine's layer names (the anchor's) of the weights its 49 KB scheme trains, ours, and the fraction of channels. */
const TINYENGINE_49KB_WEIGHTS = [
  ['v9_conv_0', 'block9/expand/weights', 0.25],
  ['v10_conv_0', 'block10/expand/weights', 0.5],
  ['v11_conv_0', 'block11/expand/weights', 0.5],
  ['classifier', 'classifier/weights', 1],
] as const;

export const tinyEngine49kbName = 'TinyEngine 49 KB';

/**
 * TinyEngine's 49 KB scheme for MCUNet-5FPS (../shared/anchors/README.md): biases of the last 21
 * convolutions (the classifier counts as one); weights of three expansion convolutions partially and
 * the classifier whole. The fractions are of input channels, as TinyEngine's are (`24@in1/4`).
 */
export function tinyEngine49kb(graph: Graph): NamedScheme {
  const names = weightedLayers(graph).map((op) => graph.tensors[op.inputs[1]].name);
  const weights = TINYENGINE_49KB_WEIGHTS.map(([theirs, ours, fraction]) => {
    const layer = names.indexOf(ours);
    if (layer < 0) throw new Error(`${graph.name} has no layer '${ours}' (TinyEngine's ${theirs}): is it mcunet-5fps?`);
    return fraction === 1 ? { layer, fraction } : { layer, fraction: 1, inputFraction: fraction };
  });
  return {
    name: tinyEngine49kbName,
    scheme: scheme(21, weights),
    rule: 'the paper\'s 49 KB scheme (TinyEngine assets/49kb-int8-graph.json): biases of the last 21 convolutions, weights of ' +
      'v9_conv_0 at 1/4, v10_conv_0 and v11_conv_0 at 1/2 of their input channels and the classifier',
  };
}

/**
 * The sparse-update schemes the paper's code release ships for its backbones (Lin et al. 2022), in
 * mcutrain's inline form: weighted layers counted as here (the classifier is the last), fractions of
 * output channels here where the paper's are of input channels (the same number of weights).
 */
export const PAPER_SCHEMES: Readonly<Record<string, readonly { name: string; text: string }[]>> = {
  'mobilenetv2-w0.35': [
    { name: 'paper "49kb"', text: 'bias:last=17,weights:layers=41@1/4,42,45,48,49@1/8,36,39,51' },
    { name: 'paper "99kb"', text: 'bias:last=26,weights:layers=42@1/8,45@1/2,27,30,33,36,39,48,51' },
  ],
  'mcunet-5fps': [
    { name: 'paper "100 KB"', text: 'bias:last=23,weights:layers=36@1/8,39@1/4,21,24,27,30,42' },
  ],
};

/** A scheme of PAPER_SCHEMES, checked against `graph`: every layer it names must exist. */
export function paperScheme(graph: Graph, name: string, text: string): NamedScheme {
  const s = parseScheme(text);
  const count = weightedLayers(graph).length;
  const missing = [...(s.biasLast > count ? [`bias:last=${s.biasLast}`] : []), ...s.weights.filter((w) => w.layer >= count).map((w) => `layer ${w.layer}`)];
  if (missing.length > 0) throw new Error(`${graph.name} has ${count} weighted layers, so the ${name} scheme's ${missing.join(', ')} does not exist`);
  return { name, scheme: s, rule: `the paper's released ${name.replace('paper ', '')} scheme: ${text}` };
}

/** The schemes issue 11's targets are stated on; the bench also plans them with int16 gradients. */
export const TARGET_SCHEME_NAMES: readonly string[] = [tinyEngine49kbName, 'paper "99kb"'];

/** TinyEngine's 49 KB scheme (when asked) and the paper's released schemes for a zoo model. */
export function paperSchemes(graph: Graph, zoo: string, withTinyEngine: boolean): NamedScheme[] {
  return [...(withTinyEngine ? [tinyEngine49kb(graph)] : []), ...(PAPER_SCHEMES[zoo] ?? []).map((p) => paperScheme(graph, p.name, p.text))];
}

/** The schemes of `named` that issue 11's targets are stated on, with int16 gradients. */
export function i16TargetVariants(named: NamedScheme[]): NamedScheme[] {
  return named.filter((s) => TARGET_SCHEME_NAMES.includes(s.name)).map(withI16Gradients);
}

/** A target scheme with int16 gradients (`--grad i16`), named for it. */
function withI16Gradients(s: NamedScheme): NamedScheme {
  return { name: `${s.name}, i16 gradients`, scheme: { ...s.scheme, grad: 'i16' }, rule: `${s.rule}; gradients stored as int16 (--grad i16)` };
}
