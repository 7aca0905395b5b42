// Training progress on stderr: an ora spinner on a terminal, plain periodic lines elsewhere.

import ora, { Ora } from 'ora';
import { TrainConfig } from '../config';
import { EvalInfo, StepInfo, StopReason } from '../engine/trainer';
import { TrainProgress } from '../engine/trainer';
import { describeEndChoice } from '../engine/tail-average';
import { Log } from './log';
import { lossPlot } from './plot';

/** Plain log lines at most this often when stderr is not a terminal. */
const PLAIN_INTERVAL_MS = 10000;

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export class ProgressReporter {
  private spinner: Ora | null = null;
  private lastPlainAt = 0;
  private lastSpinAt = 0;
  private lastVal: number | null = null;
  private readonly sessionStart = Date.now();

  constructor(private readonly log: Log, private readonly config: Readonly<TrainConfig>, private readonly startIteration: number) {
    if (log.fancy && !log.quiet) {
      this.spinner = ora({ text: 'starting', stream: process.stderr, discardStdin: false }).start();
    }
  }

  private eta(info: StepInfo): string {
    const elapsed = Date.now() - this.sessionStart;
    const done = info.iteration - this.startIteration;
    const byIters = this.config.maxIters > 0 && done > 0
      ? (elapsed / done) * (this.config.maxIters - info.iteration) : Infinity;
    const byTime = this.config.timeBudgetMs > 0 ? this.config.timeBudgetMs - info.elapsedMs : Infinity;
    const left = Math.min(byIters, byTime);
    return Number.isFinite(left) ? ` | ETA ${formatDuration(Math.max(0, left))}` : '';
  }

  private line(info: StepInfo): string {
    const total = this.config.maxIters > 0 ? `/${this.config.maxIters}` : '';
    const val = this.lastVal === null ? '' : ` | val ${this.lastVal.toFixed(3)}`;
    return `iter ${info.iteration}${total} | epoch ${info.epoch} | loss ${info.loss.toFixed(3)}${val} | ` +
      `${Math.round(info.charsPerSecond).toLocaleString('en-US')} chars/s${this.eta(info)}`;
  }

  step(info: StepInfo): void {
    const now = Date.now();
    if (this.spinner) {
      if (now - this.lastSpinAt > 100) {
        this.spinner.text = this.line(info);
        this.lastSpinAt = now;
      }
    } else if (now - this.lastPlainAt >= PLAIN_INTERVAL_MS || info.iteration === this.startIteration + 1) {
      this.log.info(`rnn: ${this.line(info)}`);
      this.lastPlainAt = now;
    }
  }

  evaluated(info: EvalInfo): void {
    this.lastVal = info.valLoss;
    const mark = info.improved ? ' (best)' : '';
    const message = `rnn: iter ${info.iteration} | train ${info.trainLoss.toFixed(3)} | val ${info.valLoss.toFixed(3)} nats/char${mark}`;
    if (this.spinner) {
      this.spinner.stop();
      this.log.info(message);
      this.spinner.start();
    } else {
      this.log.info(message);
    }
  }

  /** A block of text on stderr (a sample while training), with the spinner out of its way. */
  print(message: string): void {
    this.spinner?.stop();
    this.log.info(message);
    this.spinner?.start();
  }

  finish(progress: TrainProgress, reason: StopReason, checkpoint: string, patience = 0): void {
    this.spinner?.stop();
    const why = {
      'max-iters': 'reached --max-iters', time: 'time budget spent', interrupted: 'interrupted',
      patience: `--patience ${patience}: no better validation loss in ${patience} evaluations`,
    }[reason];
    const val = progress.bestValLoss === null ? '' : `, best val ${progress.bestValLoss.toFixed(3)} nats/char`;
    const plot = lossPlot(progress.history, this.log.color);
    if (plot) this.log.info(plot);
    if (progress.endChoice) this.log.info(describeEndChoice(progress.endChoice));
    this.log.info(`rnn: stopped at iteration ${progress.iteration} (${why}) after ${formatDuration(progress.elapsedMs)}${val}; saved ${checkpoint}`);
  }
}
