// The cells as the engine's callers have imported them: the description itself is src/cells.ts.

export { CELLS, CELL_NAMES, cellSpec } from '../cells';
export type { CellSpec } from '../cells';
