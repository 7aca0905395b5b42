// What the benchmark scripts share: their flag reader, the machine line they print, and the
// per-minute reading of a validation curve.
'use strict';
const os = require('os');

/** `--name value` from the command line, or `fallback`. */
function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

/** e.g. `2 × AMD EPYC, 24 GiB, Node v20.20.2`. */
function machineLine() {
  return `${os.cpus().length} × ${os.cpus()[0].model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/**
 * The latest validation loss measured at or before each whole minute 1..minutes, from points
 * { elapsedMs, valLoss } in time order (null before the first); `slackMs` lets a pass that ends
 * just after the minute count for it.
 */
function lossPerMinute(points, minutes, slackMs = 0) {
  const out = [];
  for (let m = 1; m <= minutes; m++) {
    const seen = points.filter((p) => p.elapsedMs <= m * 60000 + slackMs);
    out.push(seen.length ? seen[seen.length - 1].valLoss : null);
  }
  return out;
}

module.exports = { arg, machineLine, lossPerMinute };
