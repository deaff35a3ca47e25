/**
 * The OperatorCode.version TFLite expects for an operator, from its tensor types and options: the rules
 * of TensorFlow Lite's op_version.cc (GetBuiltinOperatorVersion), restricted to the operator kinds and
 * element types the IR has. The interpreter only needs a version its kernel registrations cover, but
 * tools that check a model's minimum runtime read it, so we write the one the converter would.
 */
import type { DType, Graph, Operator } from '../ir/graph.ts';
import { activationInputs, inputOf, isWeighted, optionalInput } from '../ir/operator_traits.ts';

export function operatorVersion(graph: Graph, op: Operator): number {
  const type = (id: number | undefined): DType | undefined => (id === undefined || id < 0 ? undefined : graph.tensors[id]?.dtype);
  const input = type(activationInputs(op)[0]);
  const weights = isWeighted(op) ? type(inputOf(op, 'weights')) : undefined;
  const output = type(op.outputs[0]);
  const perChannel = (id: number | undefined) => id !== undefined && id >= 0 && (graph.tensors[id]?.quant?.scale.length ?? 0) > 1;

  switch (op.kind) {
    case 'CONV_2D': {
      const filter = optionalInput(graph, op, 'weights');
      const inputTensor = optionalInput(graph, op, 'input');
      const grouped = filter && inputTensor && filter.shape.length === 4 && inputTensor.shape.length === 4 &&
        filter.shape[3] !== inputTensor.shape[3];
      if (grouped) return 6;
      if (input === 'int16' && weights === 'int8' && output === 'int16') return 4;
      if (input === 'int8' && weights === 'int8' && output === 'int8') return 3;
      if (input === 'int8' && weights === 'int4' && output === 'int8') return 7;
      if (input === 'float32' && weights === 'int8' && output === 'float32') return perChannel(inputOf(op, 'weights')) ? 5 : 2;
      return 1;
    }
    case 'DEPTHWISE_CONV_2D':
      if (input === 'int16' && weights === 'int8' && output === 'int16') return 5;
      if (input === 'float32' && weights === 'int8' && output === 'float32') return perChannel(inputOf(op, 'weights')) ? 6 : 4;
      if (input === 'int8' && weights === 'int8' && output === 'int8') return 3;
      if (input === 'int8' && weights === 'int4' && output === 'int8') return 7;
      return op.options.dilationH !== 1 || op.options.dilationW !== 1 ? 2 : 1;
    case 'FULLY_CONNECTED':
      if (input === 'float32' && weights === 'int8' && output === 'float32' && perChannel(inputOf(op, 'weights'))) return 12;
      if (input === 'int16' && weights === 'int8' && output === 'int16') return 7;
      if (op.inputs.length === 2) return 6;
      if (op.options.keepNumDims) return 5;
      if (input === 'int8' && weights === 'int8' && output === 'int8') return 4;
      if (input === 'int8' && weights === 'int4' && output === 'int8') return 10;
      if (input === 'float32' && weights === 'int8' && output === 'float32') return 3;
      return 1;
    case 'AVERAGE_POOL_2D':
    case 'MAX_POOL_2D':
      if (input === 'int16' && output === 'int16') return 3;
      return input === 'int8' ? 2 : 1;
    case 'ADD':
      // int16 ADD is version 3 only with pot_scale_int16 = false, which the IR does not keep (the default is true).
      if (input === 'int64') return 4;
      return input === 'int8' ? 2 : 1;
    case 'SOFTMAX':
    case 'MEAN':
    case 'RELU6':
      if (input === 'int16') return 3;
      return input === 'int8' ? 2 : 1;
    case 'RELU':
      if (input === 'int16') return 3;
      return input === 'int8' || input === 'uint8' ? 2 : 1;
    case 'PAD': {
      const rank = optionalInput(graph, op, 'input')?.shape.length ?? 0;
      if (rank > 4) return 4;
      if (input === 'int16') return 3;
      return input === 'int8' ? 2 : 1;
    }
    case 'CONCATENATION':
      if (input === 'uint32') return 4;
      if (input === 'int16') return 3;
      return input === 'int8' ? 2 : 1;
    case 'QUANTIZE':
      if (input === 'int4' || output === 'int4') return 4;
      if (perChannel(op.outputs[0])) return 3;
      return output === 'int16' ? 2 : 1;
    case 'DEQUANTIZE':
      if (input === 'int4') return 6;
      if (input === 'int16' || input === 'float16') return 3;
      if (input === 'int8') return perChannel(inputOf(op, 'input')) ? 5 : 2;
      return 1;
    case 'RESHAPE':
      return 1;
  }
}
