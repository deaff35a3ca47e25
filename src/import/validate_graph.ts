/**
 * The dataflow checks every imported graph must pass before any pass sees it.
 *
 * A .tflite file can be well-formed FlatBuffers and still describe no computation: a graph input
 * rewired to an intermediate tensor, an output no operator computes, an operator that reads a tensor
 * before anything writes it, a weight whose buffer is empty, no inputs or outputs at all. The passes
 * after import trust the dataflow, so such a graph would compile into an engine that reads
 * uninitialized arena memory and answers wrong without a word. Here it is refused, naming the tensor
 * and the operator.
 */
import { McutrainError } from '../errors.ts';
import { tensorBytes, type Graph, type Operator, type Tensor } from '../ir/graph.ts';

/** At most this many problems are listed; the count says how many more there are. */
const PROBLEMS_SHOWN = 3;

const tensorLabel = (t: Tensor) => `tensor ${t.id} '${t.name}'`;
const operatorLabel = (op: Operator) => `operator ${op.id} (${op.kind})`;

/**
 * Every problem with the graph's dataflow, in execution order; [] for a graph the passes can trust:
 * at least one input, output and operator; every tensor an operator reads is a constant, a graph input
 * or written by an earlier operator; every written tensor has exactly one writer and is neither a
 * constant nor a graph input; every graph output is written by an operator; constants hold exactly
 * their shape's bytes.
 */
export function graphProblems(graph: Graph): string[] {
  const problems: string[] = [];
  const { tensors } = graph;
  if (graph.inputs.length === 0) problems.push('the model has no inputs');
  if (graph.outputs.length === 0) problems.push('the model has no outputs');
  if (graph.operators.length === 0) problems.push('the model has no operators (nothing computes its outputs)');

  for (const t of tensors) {
    if (t.data && t.data.length !== tensorBytes(t)) {
      problems.push(`${tensorLabel(t)} holds ${t.data.length} bytes of data, but its shape [${t.shape.join(', ')}] of ${t.dtype} needs ${tensorBytes(t)}`);
    }
  }

  const isInput = new Set<number>();
  for (const id of graph.inputs) {
    const t = tensors[id];
    if (isInput.has(id)) problems.push(`${tensorLabel(t)} is listed twice among the model inputs`);
    else if (t.data) problems.push(`model input ${tensorLabel(t)} is a constant (it has data)`);
    isInput.add(id);
  }

  /** Which operator writes each tensor, filled in execution order. */
  const writer = new Map<number, Operator>();
  const laterWriter = new Map<number, Operator>();
  for (const op of graph.operators) for (const id of op.outputs) if (!laterWriter.has(id)) laterWriter.set(id, op);
  for (const op of graph.operators) {
    for (const id of op.inputs) {
      if (id === -1) continue;
      const t = tensors[id];
      if (t.data || isInput.has(id) || writer.has(id)) continue;
      const later = laterWriter.get(id);
      problems.push(!later
        ? `${operatorLabel(op)} reads ${tensorLabel(t)}, which has no data, is not a model input and is written by no operator`
        : later === op ? `${operatorLabel(op)} reads its own output ${tensorLabel(t)}`
          : `${operatorLabel(op)} reads ${tensorLabel(t)} before ${operatorLabel(later)} writes it (operators must be listed in execution order)`);
    }
    for (const id of op.outputs) {
      const t = tensors[id];
      const earlier = writer.get(id);
      if (earlier) problems.push(`${tensorLabel(t)} is written by both ${operatorLabel(earlier)} and ${operatorLabel(op)}`);
      else if (t.data) problems.push(`${operatorLabel(op)} writes ${tensorLabel(t)}, which is a constant (it has data)`);
      else if (isInput.has(id)) problems.push(`${operatorLabel(op)} overwrites model input ${tensorLabel(t)}`);
      if (!earlier) writer.set(id, op);
    }
  }

  const isOutput = new Set<number>();
  for (const id of graph.outputs) {
    const t = tensors[id];
    if (isOutput.has(id)) problems.push(`${tensorLabel(t)} is listed twice among the model outputs`);
    else if (!writer.has(id)) {
      const what = isInput.has(id) ? 'is a model input' : t.data ? 'is a constant' : 'has no value';
      problems.push(`model output ${tensorLabel(t)} is written by no operator (it ${what})`);
    }
    isOutput.add(id);
  }
  return problems;
}

/** Throws a McutrainError listing the graph's dataflow problems (see graphProblems), if it has any. */
export function validateGraph(graph: Graph, label: string): void {
  const problems = graphProblems(graph);
  if (problems.length === 0) return;
  const more = problems.length > PROBLEMS_SHOWN ? `; and ${problems.length - PROBLEMS_SHOWN} more` : '';
  throw new McutrainError(
    `'${label}' does not describe a computable graph: ${problems.slice(0, PROBLEMS_SHOWN).join('; ')}${more}`,
    'the file is damaged or was edited by a tool that broke its graph: re-export it with the TensorFlow Lite converter',
  );
}
