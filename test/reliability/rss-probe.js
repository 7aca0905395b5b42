// Preloaded with `node -r` into bin/rnn by the large-corpus test: writes the process's peak
// resident set (bytes) to $RNN_RSS_OUT as it exits, so the real CLI's peak can be measured.
//
// VmHWM from /proc/self/status, not getrusage's ru_maxrss: Linux carries ru_maxrss across fork
// and exec, so a child of a big parent (a jest worker that has run many suites: ~700 MB in CI)
// reports the parent's peak; VmHWM belongs to the address space, which exec replaces.
'use strict';
const fs = require('fs');

function peakBytes() {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // Not Linux: fall back to getrusage.
  }
  return process.resourceUsage().maxRSS * 1024;
}

process.on('exit', () => {
  if (process.env.RNN_RSS_OUT) fs.writeFileSync(process.env.RNN_RSS_OUT, String(peakBytes()));
});
