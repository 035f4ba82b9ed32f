// Who this process is, as `--version`, the apiserver (the User-Agent, in its audit log) and the
// Lease see it: the version from package.json, and an instance (host and pid, like client-go's
// leader-election identity) that tells apart two operators on one host, where the hostname alone
// would not (several test operators beside a node's; the audit log then names the one that wrote).
// Events keep the hostname as their reportingInstance (kube/events.ts): a pod's name.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export const processInstance = (): string => `${hostname()}_${process.pid}`;

/** client-go's shape (`binary/version (os/arch) …`), which the apiserver logs, audits and labels metrics by. */
export const userAgent = (): string => `annotary/${version()} (${process.platform}/${process.arch}) ${processInstance()}`;
