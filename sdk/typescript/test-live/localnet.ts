// A throwaway 4-validator network from the release binaries, as scripts/bench.sh and
// scripts/lib/local-net.sh start one: genesis with `tally-genesis init`, a node.toml per
// validator, `tally-node run`. It stops only the processes it started, by PID, and removes its
// directory (kept on failure for the logs).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const VALIDATORS = 4;

/** True when something accepts connections on 127.0.0.1:`port` (local-net.sh `port_in_use`). */
function portInUse(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      done(false);
    });
    socket.once('error', () => done(false));
  });
}

/** A base port B with B..B+3 (P2P) and B+1000..B+1003 (HTTP) free, searched as local-net.sh does. */
export async function freeBasePort(): Promise<number> {
  const start = 29100 + Math.floor(Math.random() * 50) * 10;
  for (let base = start; base <= 29990; base += 10) {
    let busy = false;
    for (let k = 0; k < VALIDATORS && !busy; k++) {
      busy = (await portInUse(base + k)) || (await portInUse(base + 1000 + k));
    }
    if (!busy) return base;
  }
  throw new Error('no free ports in 29100..30993');
}

export interface LocalNet {
  dir: string;
  base: number;
  urls: string[];
  genesisPath: string;
  issuerKeyPath(member: string): string;
  stop(keepDir: boolean): Promise<void>;
}

const NODE_TOML = `[node]
data_dir = "data"
genesis = "../genesis.json"
consensus_key = "consensus.key"
network_key = "network.key"

[log]
format = "human"
level = "info"
`;

export function binDir(packageRoot: string): string {
  return resolve(process.env['TALLY_BIN_DIR'] ?? resolve(packageRoot, '../../target/release'));
}

/** Starts the network; throws (after stopping what it started) if it cannot. */
export async function startLocalNet(bins: string): Promise<LocalNet> {
  for (const name of ['tally-genesis', 'tally-node']) {
    if (!existsSync(join(bins, name))) {
      throw new Error(`no ${name} in ${bins}; build it (cargo build --release) or set TALLY_BIN_DIR`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'tally-sdk-live-'));
  const base = await freeBasePort();
  const init = spawnSync(
    join(bins, 'tally-genesis'),
    ['init', '--chain-id', 'tally-sdk-live', '--validators', String(VALIDATORS), '--members', 'acme,globex,initech',
      '--out', dir, '--base-port', String(base), '--issuer-float', '1000000'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`tally-genesis init failed: ${init.stderr || init.stdout}`);
  }
  const children: ChildProcess[] = [];
  for (let k = 0; k < VALIDATORS; k++) {
    const validatorDir = join(dir, `validator-${k}`);
    writeFileSync(join(validatorDir, 'node.toml'), NODE_TOML);
    const log = openSync(join(validatorDir, 'node.log'), 'a');
    children.push(spawn(join(bins, 'tally-node'), ['run', '--config', 'node.toml'], { cwd: validatorDir, stdio: ['ignore', log, log] }));
  }
  const stop = async (keepDir: boolean): Promise<void> => {
    // Only the processes started here, each by its PID: SIGTERM, then SIGKILL after 5 s.
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return done();
            const timer = setTimeout(() => {
              try {
                process.kill(child.pid!, 'SIGKILL');
              } catch {
                /* already gone */
              }
            }, 5_000);
            child.once('exit', () => {
              clearTimeout(timer);
              done();
            });
            try {
              process.kill(child.pid, 'SIGTERM');
            } catch {
              clearTimeout(timer);
              done();
            }
          }),
      ),
    );
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  };
  return {
    dir,
    base,
    urls: Array.from({ length: VALIDATORS }, (_, k) => `http://127.0.0.1:${base + 1000 + k}`),
    genesisPath: join(dir, 'genesis.json'),
    issuerKeyPath: (member) => join(dir, 'members', member, 'issuer.key'),
    stop,
  };
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
