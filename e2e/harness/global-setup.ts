// Jest global setup for e2e: reuse a running local control plane or start one
// (hack/cluster.sh up is idempotent), and make sure the operator is built.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export default async function globalSetup(): Promise<void> {
  const root = path.resolve(import.meta.dirname ?? '.', '../..');
  execFileSync('bash', [path.join(root, 'hack/cluster.sh'), 'up'], { stdio: 'inherit' });
  if (!existsSync(path.join(root, 'dist/cli.js'))) {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  }
}
