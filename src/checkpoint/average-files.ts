// The mean of several checkpoints' weights, one run's snapshots along its tail (checkpoint
// averaging, as fairseq's scripts/average_checkpoints.py does; SWA, Izmailov et al. 2018, is the
// same idea with the snapshots taken on purpose). The average of points the optimizer visited
// late in a run sits nearer the middle of the basin they circle than any one of them, and
// often predicts held-out text better than the best of them (measured: docs/averaging.md).

import { AveragedSource, CheckpointMeta, LoadedCheckpoint, loadCheckpoint, nonFinite, readCheckpointMeta } from './checkpoint';
import { CheckpointError, NamedTensor, encodeSafetensors, openSafetensorsFile } from './safetensors';

export interface AveragedCheckpoint {
  /** The mean in memory, as restoreModel takes it: the latest source's metadata, averagedFrom set. */
  checkpoint: LoadedCheckpoint;
  sources: AveragedSource[];
  parameters: number;
  /** The weights-only F32 file image; valLoss, when measured, is recorded as its validation loss. */
  encode(valLoss: number | null): Buffer;
}

/**
 * Averages the weights of `files` (at least two), element by element in float64, rounded once to
 * float32. They must be checkpoints of one run: the same model, vocabulary, corpus and seed.
 * Weights of two runs are not comparable unit for unit (any permutation of the hidden units is
 * the same network), so their mean is a broken model; that is refused, not warned about. The
 * result carries the metadata of the latest source (highest iteration) and the list of sources;
 * its validation loss is the one the caller measured on the mean, or none: a source's is not it.
 */
export function averageCheckpoints(files: readonly string[]): AveragedCheckpoint {
  if (files.length < 2) throw new CheckpointError(`averaging needs at least two checkpoints, got ${files.length}`);
  // Headers and metadata first, so a mismatch is refused before any weight is read.
  const metas = files.map((file) => ({ file, meta: readCheckpointMeta(file) }));
  const first = metas[0];
  for (const other of metas.slice(1)) checkSameRun(first.file, first.meta, other.file, other.meta);

  const sums = new Map<string, { shape: number[]; sum: Float64Array }>();
  for (const { file } of metas) {
    const ckpt = loadCheckpoint(file, { weightsOnly: true });
    if (sums.size === 0) {
      for (const t of ckpt.tensors.values()) sums.set(t.name, { shape: t.shape, sum: new Float64Array(t.data.length) });
    }
    for (const [name, { shape, sum }] of sums) {
      const t = ckpt.tensors.get(name);
      if (!t || t.shape.join() !== shape.join()) throw new CheckpointError(`${file}: tensor '${name}' is missing or has another shape than in ${first.file}`);
      // One diverged source would make every mean it touches NaN: name it instead.
      const found = nonFinite(t.data);
      if (found !== null) throw new CheckpointError(`${file}: tensor '${name}' ${found}; leave that checkpoint out`);
      for (let i = 0; i < sum.length; i++) sum[i] += t.data[i];
    }
    if (ckpt.tensors.size !== sums.size) throw new CheckpointError(`${file} has ${ckpt.tensors.size} weight tensors, ${first.file} has ${sums.size}`);
  }

  const tensors = new Map<string, NamedTensor>();
  let parameters = 0;
  for (const [name, { shape, sum }] of sums) {
    const data = new Float32Array(sum.length);
    for (let i = 0; i < sum.length; i++) data[i] = sum[i] / files.length;
    tensors.set(name, { name, shape, data });
    parameters += data.length;
  }

  const sources: AveragedSource[] = metas.map(({ file, meta }) => ({
    checkpoint: file, iteration: meta.progress.iteration, valLoss: meta.progress.lastValLoss,
  }));
  const latest = metas.reduce((a, b) => (b.meta.progress.iteration > a.meta.progress.iteration ? b : a));
  const sourceMetadata = openMetadata(latest.file);
  const meta: CheckpointMeta = {
    ...latest.meta, progress: { ...latest.meta.progress, bestValLoss: null, lastValLoss: null }, averagedFrom: sources,
  };
  return {
    checkpoint: { path: latest.file, meta, tensors },
    sources,
    parameters,
    encode(valLoss: number | null): Buffer {
      const metadata: Record<string, string> = { ...sourceMetadata, averaged_from: JSON.stringify(sources) };
      metadata.progress = JSON.stringify({ ...meta.progress, bestValLoss: valLoss, lastValLoss: valLoss });
      metadata.best_val_loss = valLoss === null ? '' : String(valLoss);
      return encodeSafetensors([...tensors.values()], metadata);
    },
  };
}

function openMetadata(file: string): Record<string, string> {
  const open = openSafetensorsFile(file);
  try {
    return open.metadata;
  } finally {
    open.close();
  }
}

function checkSameRun(fileA: string, a: CheckpointMeta, fileB: string, b: CheckpointMeta): void {
  const model = (m: CheckpointMeta): string => JSON.stringify([m.model.cell, m.model.layers, m.model.hiddenSize, m.model.embeddingSize, m.model.vocabSize]);
  if (model(a) !== model(b)) {
    throw new CheckpointError(`${fileB} is a ${describe(b)} and ${fileA} a ${describe(a)}: only checkpoints of one model can be averaged`);
  }
  if (a.vocab.serialize() !== b.vocab.serialize()) throw new CheckpointError(`${fileB} and ${fileA} have different vocabularies: they are not checkpoints of one run`);
  if (a.corpus.sha256 !== b.corpus.sha256 || a.train.seed !== b.train.seed) {
    throw new CheckpointError(`${fileB} and ${fileA} come from different runs (corpus or --seed differ): ` +
      'the weights of two runs do not line up unit for unit; average checkpoints of one run (e.g. its --snapshots)');
  }
}

function describe(m: CheckpointMeta): string {
  return `${m.model.layers}x${m.model.hiddenSize} ${m.model.cell} (embedding ${m.model.embeddingSize}, vocabulary ${m.model.vocabSize})`;
}
