import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';

export interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | null>;
  ports?: Array<string | { target: number; published: number | string; host_ip?: string }>;
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  volumes?: unknown[];
}

export interface ComposeConfig {
  services: Record<string, ComposeService>;
}

/**
 * docker-compose.yml as Compose resolves it (anchors merged, ${…} filled in) with exactly the variables given:
 * an empty env file, so the developer's .env plays no part.
 */
export function composeConfig(variables: Record<string, string>): ComposeConfig {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nezuko-compose-'));
  try {
    const envFile = path.join(dir, 'empty.env');
    writeFileSync(envFile, '');
    const yaml = execFileSync('docker-compose', ['--env-file', envFile, 'config'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...variables },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return parse(yaml) as ComposeConfig;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The final stage of the Dockerfile: its WORKDIR, ENV and CMD (what a container of the image runs). */
export function dockerfileRuntime(file = 'Dockerfile'): {
  workdir: string;
  env: Record<string, string>;
  cmd: string[];
} {
  const stages = readFileSync(file, 'utf8').split(/^FROM /m);
  const last = stages.at(-1)!;
  const workdir = /^WORKDIR (\S+)/m.exec(last)?.[1] ?? '/';
  const env = Object.fromEntries([...last.matchAll(/^ENV (\w+)=(\S+)/gm)].map((m) => [m[1]!, m[2]!]));
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(last)?.[1] ?? '[]') as string[];
  return { workdir, env, cmd };
}
