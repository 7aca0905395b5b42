// Ctrl-C during training: exit 130 with a resumable checkpoint, and resuming reaches the uninterrupted run's weights.

import * as fs from 'fs';
import * as path from 'path';
import { rnn, rnnAsync, tempWorkspace, tensorsOf, TINY } from './helpers';

function savedIteration(file: string): number {
  const bytes = fs.readFileSync(file);
  const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8'));
  return Number(header.__metadata__.step);
}

describe('rnn train interrupted by SIGINT', () => {
  it('exits 130, saves a resumable checkpoint, and --resume reaches the same weights', async () => {
    const { dir, corpus } = tempWorkspace();
    const cut = path.join(dir, 'cut'), whole = path.join(dir, 'whole');
    let signalled = false;
    // The default cosine schedule over a fixed --max-iters, with dropout and zoneout masks, and a
    // tail average that spans the cut: the resumed run must pick up the schedule's position, the
    // mask stream and the running mean exactly.
    const flags = [...TINY, '--max-iters', '300', '--dropout', '0.2', '--zoneout', '0.1', '--average-tail', '0.95'];
    const interrupted = await rnnAsync(['train', corpus, ...flags, '--checkpoint-dir', cut], {
      // Interrupt once a few evaluations have gone by: mid-run, between saves.
      onStderr: (soFar, child) => {
        if (!signalled && /rnn: iter 20 \|/.test(soFar)) {
          signalled = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(signalled).toBe(true);
    expect(interrupted.code).toBe(130);
    expect(interrupted.stdout).toBe('');
    expect(interrupted.stderr).toMatch(/interrupt: saving a resumable checkpoint/);
    expect(interrupted.stderr).toMatch(/rnn: interrupted; resume with: rnn train .* --resume/);
    const latest = path.join(cut, 'play.safetensors');
    const stoppedAt = savedIteration(latest);
    expect(stoppedAt).toBeGreaterThanOrEqual(20);
    expect(fs.readdirSync(cut).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    // Resume to the end of the run; train the same run without an interruption.
    const resumed = rnn(['train', corpus, ...flags, '--checkpoint-dir', cut, '--resume']);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain(`at iteration ${stoppedAt}`);
    expect(savedIteration(latest)).toBe(300);
    expect(rnn(['train', corpus, ...flags, '--checkpoint-dir', whole]).code).toBe(0);
    expect(tensorsOf(latest).equals(tensorsOf(path.join(whole, 'play.safetensors')))).toBe(true);
  });
});
