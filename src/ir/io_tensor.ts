/** A model input or output as a generated project records it (mcutrain.json) and the data readers fill it. */
import { tensorBytes, type DType, type Tensor } from './graph.ts';

export interface IoTensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  bytes: number;
  scale: number;
  zeroPoint: number;
}

/** `t` as an IoTensorInfo: its first quantization parameters (inputs and outputs are per-tensor). */
export function ioTensorInfo(t: Tensor): IoTensorInfo {
  return { name: t.name, dtype: t.dtype, shape: t.shape, bytes: tensorBytes(t), scale: t.quant?.scale[0] ?? 0, zeroPoint: t.quant?.zeroPoint[0] ?? 0 };
}
