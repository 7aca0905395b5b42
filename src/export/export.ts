// Builds a shareable model: the plain-JavaScript sampler (runtime.js) with F16 weights embedded,
// as a Node/browser module, or inside one self-contained HTML page; or an F16 checkpoint.

import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError, encodeSafetensors, openSafetensorsFile } from '../checkpoint/safetensors';
import { f16Bits, f16Value } from '../checkpoint/f16';
import { loadCheckpoint } from '../checkpoint/checkpoint';

export type ExportFormat = 'html' | 'js' | 'safetensors';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['html', 'js', 'safetensors'];

/** What the runtime reads: MODEL in runtime.js. */
export interface ExportedModel {
  format: 'rnn-export';
  version: 1;
  config: { cell: string; vocabSize: number; embeddingSize: number; hiddenSize: number; layers: number; zoneout: number; zoneoutCell?: number };
  vocab: string[];
  source: { checkpoint: string; iteration: number; bestValLoss: number | null };
  tensors: Record<string, { dtype: 'F16'; shape: number[]; data: string }>;
}

export interface ExportResult {
  bytes: Buffer;
  /** Largest |w - f16(w)| over the weights: 0 when the checkpoint was F16 already. */
  maxRoundingError: number;
  parameters: number;
  cell: string;
}

const isWeight = (name: string): boolean => !name.startsWith('optimizer.') && !name.startsWith('state.');

/** The folder holding runtime.js and page.html: src/export, found from dist/ as from src/. */
function assetDir(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`export: no package.json above ${__dirname}`);
    dir = up;
  }
  return path.join(dir, 'src', 'export');
}

export function readAsset(name: 'runtime.js' | 'page.html'): string {
  return fs.readFileSync(path.join(assetDir(), name), 'utf8');
}

/** JSON that is safe inside a <script> element: no '</' can close it. */
function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/<\//g, '<\\/');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

export function exportModel(file: string, format: ExportFormat): ExportResult {
  const ckpt = loadCheckpoint(file, { weightsOnly: true });
  const open = openSafetensorsFile(file);
  const metadata = open.metadata;
  open.close();
  const cell = ckpt.meta.model.cell;
  const weights = [...ckpt.tensors.values()].filter((t) => isWeight(t.name));
  let maxRoundingError = 0;
  let parameters = 0;
  const tensors: ExportedModel['tensors'] = {};
  for (const t of weights) {
    const halves = Buffer.alloc(2 * t.data.length);
    for (let i = 0; i < t.data.length; i++) {
      const bits = f16Bits(t.data[i]);
      halves.writeUInt16LE(bits, 2 * i);
      maxRoundingError = Math.max(maxRoundingError, Math.abs(t.data[i] - f16Value(bits)));
    }
    parameters += t.data.length;
    tensors[t.name] = { dtype: 'F16', shape: t.shape, data: halves.toString('base64') };
  }
  const result = (bytes: Buffer): ExportResult => ({ bytes, maxRoundingError, parameters, cell });
  if (format === 'safetensors') {
    // Weights only, F16, with the source's metadata: `rnn sample` runs exactly what the page runs.
    return result(encodeSafetensors(weights, metadata, { dtype: 'F16' }));
  }
  const { meta } = ckpt;
  const model: ExportedModel = {
    format: 'rnn-export', version: 1,
    config: { ...meta.model, cell },
    vocab: [...meta.vocab.chars],
    source: { checkpoint: path.basename(file), iteration: meta.progress.iteration, bestValLoss: meta.progress.bestValLoss },
    tensors,
  };
  const module = readAsset('runtime.js').replace('/*RNN_MODEL*/null', () => scriptSafeJson(model));
  if (format === 'js') return result(Buffer.from(module, 'utf8'));
  const title = `${path.basename(file).replace(/(\.best)?\.safetensors$/, '')}: a character-level ${cell.toUpperCase()}`;
  const val = meta.progress.bestValLoss === null ? '' : `, validation loss ${meta.progress.bestValLoss.toFixed(3)} nats/char`;
  const about = `${meta.model.layers}x${meta.model.hiddenSize} ${cell}, ${parameters.toLocaleString('en-US')} parameters, ` +
    `vocabulary ${meta.vocab.size}, ${meta.progress.iteration} iterations${val}. Runs here, offline: exported by rnn.`;
  const page = readAsset('page.html')
    .replace(/\/\*RNN_TITLE\*\//g, () => escapeHtml(title))
    .replace('/*RNN_ABOUT*/', () => escapeHtml(about))
    .replace('/*RNN_MODULE*/', () => module);
  return result(Buffer.from(page, 'utf8'));
}
