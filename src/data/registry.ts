// Named corpora: where each comes from, its checksum, and how it is fetched into corpora/.
//
// `rnn train tinyshakespeare` finds corpora/tinyshakespeare.txt, or downloads it when absent.
// A download is kept only when its sha256 matches; it is written atomically. RNN_CORPUS_URL
// replaces the URL (a mirror, or a local server in tests). Nothing here prints: the CLI passes
// an onProgress callback.

import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as path from 'path';
import { writeFileAtomic } from './atomic';

export interface KnownCorpus {
  name: string;
  /** File name inside the corpora folder. */
  file: string;
  url: string;
  bytes: number;
  sha256: string;
  description: string;
}

export const KNOWN_CORPORA: readonly KnownCorpus[] = [
  {
    name: 'tinyshakespeare',
    file: 'tinyshakespeare.txt',
    url: 'https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt',
    bytes: 1115394,
    sha256: '86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed',
    description: "40,000 lines of Shakespeare, from Andrej Karpathy's char-rnn",
  },
];

/** The environment variable that replaces a known corpus's download URL. */
export const URL_OVERRIDE_ENV = 'RNN_CORPUS_URL';

/** Give up on a connection that sends nothing for this long. */
const IDLE_TIMEOUT_MS = 30000;
/** raw.githubusercontent.com answers directly, but a mirror may redirect. */
const MAX_REDIRECTS = 5;

export function knownCorpus(name: string): KnownCorpus | undefined {
  return KNOWN_CORPORA.find((c) => c.name === name);
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export type CorpusState = 'absent' | 'ok' | 'differs';

/** Whether a known corpus is in dir, and whether its bytes are the registered ones. */
export function corpusState(corpus: KnownCorpus, dir: string): { file: string; state: CorpusState; bytes?: number } {
  const file = path.join(dir, corpus.file);
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch {
    return { file, state: 'absent' };
  }
  return { file, state: sha256(data) === corpus.sha256 ? 'ok' : 'differs', bytes: data.length };
}

export interface FetchProgress {
  url: string;
  received: number;
  /** From Content-Length, or the registered size. */
  total: number;
}

/** A download that failed: offline, HTTP error, or a checksum mismatch. Nothing was saved. */
export class FetchError extends Error {
  override name = 'FetchError';
}

function download(url: string, onProgress: (p: FetchProgress) => void, expected: number, redirects = 0): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new FetchError(`'${url}' is not a URL`));
      return;
    }
    const client = parsed.protocol === 'http:' ? http : parsed.protocol === 'https:' ? https : null;
    if (!client) {
      reject(new FetchError(`${url}: only http and https URLs can be fetched`));
      return;
    }
    const request = client.get(parsed, { timeout: IDLE_TIMEOUT_MS }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects >= MAX_REDIRECTS) {
          reject(new FetchError(`${url}: more than ${MAX_REDIRECTS} redirects`));
          return;
        }
        download(new URL(res.headers.location, parsed).toString(), onProgress, expected, redirects + 1).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        reject(new FetchError(`${url} answered HTTP ${status}`));
        return;
      }
      const total = Number(res.headers['content-length']) || expected;
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        onProgress({ url, received, total });
      });
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', (err) => reject(new FetchError(`${url}: ${err.message}`)));
    });
    request.on('timeout', () => request.destroy(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`)));
    request.on('error', (err: NodeJS.ErrnoException) => reject(new FetchError(`${url}: ${err.code ?? err.message}`)));
  });
}

/**
 * Downloads a known corpus into dir and checks its sha256 before keeping it; returns its path.
 * Throws FetchError (offline, HTTP error, wrong bytes) with what to do instead.
 */
export async function fetchCorpus(
  corpus: KnownCorpus, dir: string, onProgress: (p: FetchProgress) => void = () => undefined,
): Promise<string> {
  const file = path.join(dir, corpus.file);
  const url = process.env[URL_OVERRIDE_ENV] || corpus.url;
  const byHand = `download ${corpus.url} by hand to ${file}`;
  let body: Buffer;
  try {
    body = await download(url, onProgress, corpus.bytes);
  } catch (err) {
    throw new FetchError(`cannot download ${corpus.name}: ${(err as Error).message} (offline? ${byHand})`);
  }
  const digest = sha256(body);
  if (digest !== corpus.sha256) {
    throw new FetchError(`${corpus.name} from ${url}: sha256 ${digest} (${body.length} bytes) is not the expected ` +
      `${corpus.sha256} (${corpus.bytes} bytes); not saved. Try again, or ${byHand}`);
  }
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(file, body);
  return file;
}
