// The corpus argument of `rnn train`: a file, '-' for stdin, or a known corpus name fetched when absent.

import * as fs from 'fs';
import { EncodedCorpus, readCorpusFile, readCorpusStdin } from '../data/corpus';
import { FetchProgress, corpusState, fetchCorpus, knownCorpus } from '../data/registry';
import { Log } from './log';

/**
 * The corpus argument: '-' is stdin; an existing path always wins; then a known corpus name,
 * read from the corpora folder or fetched there (sha256 checked) when absent.
 */
export async function readCorpus(corpusArg: string, corporaDir: string, log: Log): Promise<EncodedCorpus> {
  if (corpusArg === '-') return readCorpusStdin();
  const known = knownCorpus(corpusArg);
  if (!known || fs.existsSync(corpusArg)) return readCorpusFile(corpusArg);
  const { state, file: present } = corpusState(known, corporaDir);
  let file = present;
  if (state === 'differs') log.warn(`${file} is not the registered ${known.name} (sha256 differs); training on it anyway`);
  if (state === 'absent') {
    log.info(`rnn: ${file} is absent; fetching ${known.name} (${(known.bytes / 1e6).toFixed(1)} MB)`);
    let lastShown = 0;
    const onProgress = (p: FetchProgress): void => {
      const now = Date.now();
      if (log.fancy && !log.quiet && now - lastShown > 200) {
        process.stderr.write(`\r\x1b[Krnn: ${Math.round((100 * p.received) / p.total)}% of ${p.url}`);
        lastShown = now;
      }
    };
    try {
      file = await fetchCorpus(known, corporaDir, onProgress);
    } finally {
      if (lastShown > 0) process.stderr.write('\r\x1b[K'); // clear the progress line
    }
    log.info(`rnn: saved ${file} (sha256 ok)`);
  }
  return readCorpusFile(file);
}
