// Preloaded with `node -r` into bin/rnn by the large-corpus test: writes the process's peak
// resident set (bytes) to $RNN_RSS_OUT as it exits, so the real CLI's peak can be measured.
'use strict';
const fs = require('fs');
process.on('exit', () => {
  if (process.env.RNN_RSS_OUT) fs.writeFileSync(process.env.RNN_RSS_OUT, String(process.resourceUsage().maxRSS * 1024));
});
