// A terminal line plot of training and validation loss over iterations (no plotting package).

import chalk from 'chalk';
import { HistoryPoint } from '../engine/trainer';

const WIDTH = 60;
const HEIGHT = 12;

/** The plot as lines of text, or '' with fewer than two points. '•' train, '○' validation. */
export function lossPlot(history: readonly HistoryPoint[], color: chalk.Chalk, width = WIDTH, height = HEIGHT): string {
  const points = history.filter((p) => Number.isFinite(p.trainLoss));
  if (points.length < 2) return '';
  const values = points.flatMap((p) => (p.valLoss !== undefined && Number.isFinite(p.valLoss) ? [p.trainLoss, p.valLoss] : [p.trainLoss]));
  const lo = Math.min(...values), hi = Math.max(...values);
  const span = hi - lo || 1;
  const first = points[0].iteration, last = points[points.length - 1].iteration;
  const grid: string[][] = Array.from({ length: height }, () => Array<string>(width).fill(' '));
  const put = (iteration: number, loss: number, mark: string): void => {
    const x = Math.round(((iteration - first) / Math.max(1, last - first)) * (width - 1));
    const y = Math.round(((hi - loss) / span) * (height - 1));
    grid[y][x] = mark;
  };
  for (const p of points) put(p.iteration, p.trainLoss, color.cyan('•'));
  for (const p of points) if (p.valLoss !== undefined && Number.isFinite(p.valLoss)) put(p.iteration, p.valLoss, color.magenta('○'));
  const label = (v: number): string => v.toFixed(2).padStart(6);
  const lines = grid.map((row, y) => {
    const axis = y === 0 ? label(hi) : y === height - 1 ? label(lo) : ' '.repeat(6);
    return `${axis} ┤${row.join('')}`;
  });
  lines.push(`${' '.repeat(6)} └${'─'.repeat(width)}`);
  const left = String(first), right = String(last);
  lines.push(`${' '.repeat(8)}${left}${' '.repeat(Math.max(1, width - left.length - right.length))}${right}`);
  lines.push(`${' '.repeat(8)}loss (nats/char) by iteration: ${color.cyan('•')} train  ${color.magenta('○')} validation`);
  return lines.join('\n');
}
