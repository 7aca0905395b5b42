// The memory estimate counts exactly the parameters the engine allocates, for every cell.

import { CELL_GATES, CellName } from '../../src/kernels/backend';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { Model } from '../../src/engine/model';
import { parameterCount } from '../../src/cli/memory';

for (const cell of Object.keys(CELL_GATES) as CellName[]) {
  it(`parameterCount(${cell}) is the engine's own count`, () => {
    const config = { vocabSize: 11, embeddingSize: 3, hiddenSize: 7, layers: 3, cell, zoneout: 0 };
    expect(parameterCount(config)).toBe(new Model(new ReferenceBackend(), config).parameterCount);
  });
}
