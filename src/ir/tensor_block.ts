/**
 * A block of a constant tensor's bytes: seen as rows of `rowSize` bytes, rows [0, rows) x their first
 * `cols` bytes (how a partly trained int8 weight tensor is split between SRAM and Flash, and how the
 * learned block goes back into the tensor). Pure functions on bytes.
 */
export interface TensorBlock {
  rows: number;
  cols: number;
  rowSize: number;
}

/** The block's bytes (row by row) and every other byte (row by row), as the firmware's mt_split_filter holds them. */
export function splitBlock(data: Uint8Array, b: TensorBlock): { block: Uint8Array; rest: Uint8Array } {
  const block = new Uint8Array(b.rows * b.cols);
  const rest = new Uint8Array(data.length - block.length);
  let r = 0;
  for (let row = 0; row * b.rowSize < data.length; row++) {
    const start = row * b.rowSize;
    const cut = row < b.rows ? b.cols : 0;
    if (cut > 0) block.set(data.subarray(start, start + cut), row * b.cols);
    rest.set(data.subarray(start + cut, start + b.rowSize), r);
    r += b.rowSize - cut;
  }
  return { block, rest };
}

/** A copy of `data` with the block replaced by `block` (row by row). */
export function joinBlock(data: Uint8Array, block: Uint8Array, b: TensorBlock): Uint8Array {
  const out = new Uint8Array(data);
  for (let row = 0; row < b.rows; row++) out.set(block.subarray(row * b.cols, (row + 1) * b.cols), row * b.rowSize);
  return out;
}
