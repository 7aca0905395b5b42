// `rnn info [checkpoint]`: what a checkpoint holds and how it trained, and which backends work on this machine.

import { Command } from 'commander';
import * as os from 'os';
import { DEFAULTS, zoneoutSummary } from '../config';
import { AVERAGE_STRIDE } from '../engine/tail-average';
import { UsageError } from '../errors';
import { cellSpec } from '../cells';
import { createBackend } from '../kernels';
import { LoadedCheckpoint, bundledCheckpoint, listCheckpoints, loadCheckpoint, resolveCheckpoint } from '../checkpoint/checkpoint';
import { stdoutColor } from './log';
import { threadsOption } from './options';
import { lossPlot } from './plot';
import { writeOut } from './stdout';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require('../../package.json') as { version: string };

interface InfoOptions {
  /** -c/--checkpoint, as `rnn sample` and `rnn eval` take it: the argument by another name. */
  checkpoint?: string;
  checkpointDir: string;
  backends: boolean;
  threads: number;
  json: boolean;
}

/** One gpu.js mode as src/kernels/gpujs reports it. */
interface GpujsModeProbe {
  mode: string;
  works: boolean;
  device?: string;
  reason?: string;
  /** webgpu: Dawn's adapter fields (vendor, architecture, device, description), and whether it is software. */
  adapter?: Record<string, string>;
  software?: boolean;
}

interface BackendReport {
  name: string;
  works: boolean;
  description?: string;
  reason?: string;
  modes?: GpujsModeProbe[];
}

export function infoCommand(): Command {
  return new Command('info')
    .description('show a checkpoint (config, vocabulary, loss history) and which backends work on this machine')
    .argument('[checkpoint]', "a checkpoint file, a run name in --checkpoint-dir, or 'bundled' (default: the newest there, else the bundled model)")
    .option('-c, --checkpoint <path|name>', 'the same as the [checkpoint] argument (as rnn sample and rnn eval take it)')
    .option('--checkpoint-dir <dir>', 'where to look for checkpoints', DEFAULTS.checkpointDir)
    .option('--no-backends', 'skip trying the backends (faster)')
    .addOption(threadsOption('worker threads to try the wasm backend with (0: one per core)'))
    .option('--json', 'print one JSON object instead of text', false)
    .addHelpText('after', `
Backends are tried, not assumed: wasm is created with its worker threads; each gpu.js mode
(headlessgl, webgpu, cpu) runs a test in a child process and names the device it ran on, marking
software rasterisers (llvmpipe, SwiftShader) as such.

Examples:
  $ rnn info
  $ rnn info tinyshakespeare
  $ rnn info checkpoints/notes.best.safetensors --no-backends
  $ rnn info --json | jq .backends`)
    .action(async (argument: string | undefined, opts: InfoOptions) => {
      if (argument !== undefined && opts.checkpoint !== undefined && argument !== opts.checkpoint) {
        throw new UsageError(`two checkpoints given ('${argument}' and --checkpoint '${opts.checkpoint}'); give one`);
      }
      await runInfo(argument ?? opts.checkpoint, opts);
    });
}

/** The gpu.js modes, from the gpu.js backend's own probe, loaded only when asked for (it is slow to load). */
async function probeGpujs(): Promise<GpujsModeProbe[]> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const gpujs = require('../kernels/gpujs') as { probeGpujsModes?: () => Promise<GpujsModeProbe[]> };
    if (gpujs.probeGpujsModes) return await gpujs.probeGpujsModes();
    return [{ mode: 'cpu', works: false, reason: 'this build of the gpu.js backend cannot probe its modes' }];
  } catch (err) {
    return [{ mode: 'cpu', works: false, reason: `the gpu.js backend does not load: ${(err as Error).message.split('\n')[0]}` }];
  }
}

async function probeBackends(threads: number): Promise<BackendReport[]> {
  const reports: BackendReport[] = [];
  for (const name of ['reference', 'wasm'] as const) {
    try {
      const backend = await createBackend(name, { threads });
      reports.push({ name, works: true, description: backend.description });
      backend.destroy();
    } catch (err) {
      reports.push({ name, works: false, reason: (err as Error).message.split('\n')[0] });
    }
  }
  const modes = await probeGpujs();
  const working = modes.filter((m) => m.works);
  reports.push({
    name: 'gpujs', works: working.length > 0, modes,
    description: working.length > 0 ? working.map((m) => `${m.mode}${m.device ? ` (${m.device})` : ''}`).join('; ') : undefined,
    reason: working.length > 0 ? undefined : 'no gpu.js mode works here',
  });
  return reports;
}

/** A character as one can read it: control and invisible characters escaped, the rest as is. */
function printable(ch: string): string {
  const named: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r', '\\': '\\\\', '"': '\\"' };
  if (named[ch]) return named[ch];
  if (/[\p{C}\p{Zl}\p{Zp}]/u.test(ch) || (/\p{Zs}/u.test(ch) && ch !== ' ')) {
    return `\\u{${ch.codePointAt(0)!.toString(16).toUpperCase()}}`;
  }
  return ch;
}

function checkpointSummary(ckpt: LoadedCheckpoint): Record<string, unknown> {
  const { meta } = ckpt;
  let parameters = 0;
  for (const [name, t] of ckpt.tensors) {
    if (!name.startsWith('optimizer.') && !name.startsWith('state.')) parameters += t.shape.reduce((a, b) => a * b, 1);
  }
  return {
    path: ckpt.path,
    createdAt: meta.createdAt,
    model: meta.model,
    parameters,
    vocabulary: { size: meta.vocab.size, chars: meta.vocab.chars.join('') },
    train: meta.train,
    corpus: meta.corpus,
    iteration: meta.progress.iteration,
    epoch: meta.progress.epoch,
    elapsedMs: meta.progress.elapsedMs,
    bestValLoss: meta.progress.bestValLoss,
    lastTrainLoss: meta.progress.lastTrainLoss,
    lastValLoss: meta.progress.lastValLoss,
    resumable: ckpt.tensors.has('optimizer.exp_avg.embedding.weight'),
    history: meta.progress.history,
    averagedFrom: meta.averagedFrom ?? null,
    /** Points in the running mean its weights are (--average-tail); 0: the weights are the last step's. */
    averaged: meta.progress.averaged ?? 0,
    /** At an averaged run's end: the mean's and the raw weights' validation losses, and which the weights are; null otherwise. */
    endChoice: meta.progress.endChoice ?? null,
  };
}

function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    rnn: version, node: process.version, platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model.trim() ?? 'unknown', cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  };
}

async function runInfo(given: string | undefined, opts: InfoOptions): Promise<void> {
  // An explicit checkpoint must exist; with none given, a machine report is still useful.
  const nothingToShow = !given && listCheckpoints(opts.checkpointDir).length === 0 && bundledCheckpoint() === null;
  const ckpt = nothingToShow ? null : loadCheckpoint(resolveCheckpoint(given, opts.checkpointDir));
  const summary = ckpt ? checkpointSummary(ckpt) : null;
  const backends = opts.backends ? await probeBackends(opts.threads) : null;
  const host = machine();
  if (opts.json) {
    await writeOut(`${JSON.stringify({ checkpoint: summary, machine: host, backends })}\n`);
    return;
  }
  const color = stdoutColor();
  const out: string[] = [];
  const row = (key: string, value: string): void => { out.push(`  ${key.padEnd(12)} ${value}`); };
  if (ckpt && summary) {
    const { meta } = ckpt;
    const m = meta.model, t = meta.train, p = meta.progress;
    const nats = (x: number | null): string => (x === null ? '—' : `${x.toFixed(4)} nats/char (${(x / Math.LN2).toFixed(3)} bits/char)`);
    const zoneout = zoneoutSummary(m);
    out.push(color.bold(`checkpoint ${ckpt.path}`));
    row('model', `${m.layers}-layer ${cellSpec(m.cell).title} (--cell ${m.cell}), hidden ${m.hiddenSize}, ` +
      `embedding ${m.embeddingSize}, vocabulary ${m.vocabSize}${zoneout ? `, ${zoneout}` : ''}`);
    row('parameters', (summary.parameters as number).toLocaleString('en-US'));
    row('vocabulary', `"${meta.vocab.chars.map(printable).join('')}"`);
    const schedule = t.lrSchedule ? `${t.lrSchedule}${t.lrSchedule === 'constant' ? '' : ` to ${t.minLr}`}` : 'constant';
    row('training', `seq-len ${t.seqLen}, batch ${t.batchSize}, lr ${t.learningRate} (${schedule}` +
      `${t.warmupIters ? `, warm-up ${t.warmupIters}` : ''}), dropout ${t.dropout ?? 0}${t.weightDecay ? `, weight decay ${t.weightDecay}` : ''}${t.weightDrop ? `, weight drop ${t.weightDrop}` : ''}, init ${t.init ?? 'orthogonal'}, clip-norm ${t.clipNorm}, ` +
      `clip-value ${t.clipValue}, val-fraction ${t.valFraction} (--val-split ${t.valSplit ?? 'tail'}), seed ${t.seed}, backend ${t.backend}`);
    row('corpus', `${meta.corpus.source} (${meta.corpus.characters.toLocaleString('en-US')} characters, sha256 ${meta.corpus.sha256.slice(0, 12)}…)`);
    row('progress', `iteration ${p.iteration}, epoch ${p.epoch}, ${(p.elapsedMs / 1000).toFixed(1)} s of training` +
      `${summary.resumable ? ', resumable' : ', weights only'}`);
    const init = t.initFrom;
    if (init && typeof init.checkpoint === 'string') {
      row('started', `from the weights of ${init.checkpoint} (iteration ${init.iteration}, sha256 ${String(init.sha256).slice(0, 12)}…), by --init-from`);
    }
    const tail = `${Math.round((t.averageTail ?? 0) * 100)}% of the run (--average-tail)`;
    if (p.endChoice?.chose === 'raw') {
      row('weights', `the last step's own: they validate ${p.endChoice.raw.toFixed(4)}, lower than the running mean of ${p.averaged} points ` +
        `of the last ${tail} at ${p.endChoice.mean.toFixed(4)}${summary.resumable ? ', which is kept for --resume' : ''}`);
    } else if (p.averaged) {
      const raw = p.endChoice ? ` (validation ${p.endChoice.mean.toFixed(4)}; the last step's own weights ${p.endChoice.raw.toFixed(4)})` : '';
      row('weights', `the running mean of ${p.averaged} points (one every ${AVERAGE_STRIDE} steps) of the last ` +
        `${tail}${raw}${summary.resumable ? "; the last step's own weights are kept for --resume" : ''}`);
    }
    if (meta.averagedFrom) {
      const measured = p.bestValLoss === null ? ' (its own validation loss not measured: rnn eval … --split val)' : '';
      row('averaged', `the mean of ${meta.averagedFrom.length} checkpoints of this run, iterations ` +
        `${meta.averagedFrom.map((s) => s.iteration).join(', ')}${measured}`);
    }
    row('best val', nats(p.bestValLoss));
    row('last', `train ${nats(p.lastTrainLoss)}, val ${nats(p.lastValLoss)}`);
    row('saved', meta.createdAt);
    const plot = lossPlot(p.history, color);
    if (plot) out.push('', plot);
    out.push('');
  } else {
    out.push(color.dim(`no checkpoint in ${opts.checkpointDir}/ and no bundled model; train one with \`rnn train tinyshakespeare --time 10m\``), '');
  }
  out.push(color.bold('machine'));
  row('rnn', String(host.rnn));
  row('node', `${host.node} on ${host.platform}`);
  row('cpu', `${host.cpu}, ${host.cores} cores, ${host.memoryGiB} GiB memory`);
  if (backends) {
    out.push('', color.bold('backends'));
    for (const b of backends) {
      const mark = b.works ? color.green('works') : color.red('fails');
      row(b.name, `${mark}  ${b.works ? b.description : b.reason}`);
      for (const mode of b.modes ?? []) {
        const detail = [mode.device && `on ${mode.device}`, mode.reason].filter(Boolean).join('; ');
        out.push(`  ${''.padEnd(12)}   ${mode.mode.padEnd(10)} ${mode.works ? color.green('works') : color.red('fails')}  ${detail}`);
      }
    }
  }
  await writeOut(`${out.join('\n')}\n`);
}
