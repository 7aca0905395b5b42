// The memory estimate is what the engine allocates: the parameters and both workspaces, counted
// from a backend that records every allocation, for every cell, with dropout and zoneout on.

import { CELL_GATES, CellName, IndexTensor, Tensor } from '../../src/kernels/backend';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { Model } from '../../src/engine/model';
import { Adam } from '../../src/engine/optimizer';
import { estimateTraining, parameterCount } from '../../src/cli/memory';
import { ModelConfig } from '../../src/config';
import { trainingMode } from '../../src/engine/workspace';

/** A reference backend that adds up the bytes of every tensor and id buffer it allocates. */
class CountingBackend extends ReferenceBackend {
  bytes = 0;
  override alloc(rows: number, cols: number): Tensor {
    this.bytes += 4 * rows * cols;
    return super.alloc(rows, cols);
  }
  override allocIndices(length: number): IndexTensor {
    this.bytes += 4 * length;
    return super.allocIndices(length);
  }
}

for (const cell of Object.keys(CELL_GATES) as CellName[]) {
  it(`parameterCount(${cell}) is the engine's own count`, () => {
    const config = { vocabSize: 11, embeddingSize: 3, hiddenSize: 7, layers: 3, cell, zoneout: 0 };
    expect(parameterCount(config)).toBe(new Model(new ReferenceBackend(), config).parameterCount);
  });
}

describe('estimateTraining is the engine\'s allocation', () => {
  // Distinct sizes, and the input table both off (V·4 > T·B) and on, so no term can hide another.
  const shapes = [
    { vocabSize: 29, B: 3, T: 5 },   // 116 > 15: no input table
    { vocabSize: 5, B: 4, T: 6 },    // 20 ≤ 24: layer 0 through the table
  ];
  const runs: Array<{ dropout: number; zoneout: number; zoneoutCell?: number; weightDrop?: number }> = [
    { dropout: 0, zoneout: 0 },
    { dropout: 0.3, zoneout: 0.1 },
    { dropout: 0.2, zoneout: 0, zoneoutCell: 0.4 },
    { dropout: 0, zoneout: 0, weightDrop: 0.3 },
    { dropout: 0.3, zoneout: 0.1, weightDrop: 0.5 },
  ];
  for (const cell of Object.keys(CELL_GATES) as CellName[]) {
    for (const { vocabSize, B, T } of shapes) {
      for (const run of runs) {
        if (run.zoneoutCell !== undefined && !['lstm', 'peephole'].includes(cell)) continue;
        const { dropout, weightDrop = 0, ...zone } = run;
        it(`${cell}, V ${vocabSize} B ${B} T ${T}, dropout ${dropout}, zoneout ${JSON.stringify(zone)}, weight drop ${weightDrop}`, () => {
          const config: ModelConfig = { vocabSize, embeddingSize: 3, hiddenSize: 7, layers: 2, cell, ...zone };
          const be = new CountingBackend();
          const model = new Model(be, config);
          // The Trainer's optimizer: Adam's moments beside the weights and gradients; its [1, 1]
          // norm is the 'small beside them' of the estimate.
          const adam = new Adam(be, model.params, 1e-3);
          const withParams = be.bytes;
          const estimate = estimateTraining(config, B, T, dropout, weightDrop);
          expect(estimate.parameterBytes).toBe(4 * 4 * model.parameterCount);
          expect(withParams).toBeGreaterThanOrEqual(estimate.parameterBytes);
          expect(withParams - estimate.parameterBytes).toBeLessThan(64);
          // What the Trainer makes: the training workspace (its masks) and the validation one.
          model.workspace(B, T, trainingMode({ dropout, weightDrop }));
          model.workspace(B, T);
          expect(be.bytes - withParams).toBe(estimate.activationBytes);
          adam.dispose();
        });
      }
    }
  }
});
