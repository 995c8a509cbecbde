/** Ports and hosts for the test servers (Git over SSH and HTTPS). */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';

/**
 * A port nothing listens on right now, on `host`: `preferred` when it is free, else the kernel's choice.
 */
export async function freePort(host = '127.0.0.1', preferred?: number): Promise<number> {
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.unref();
      srv.once('error', reject);
      srv.listen(port, host, () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
      });
    });
  if (preferred) {
    try {
      return await listen(preferred);
    } catch {
      // taken: any port will do
    }
  }
  return listen(0);
}

/**
 * Waits (10 s at most) until `host:port` accepts a connection; `failed` reports a reason to stop early
 * (e.g. the server process exited), and `what` names the server in the timeout message.
 */
export async function waitForPort(
  what: string,
  host: string,
  port: number,
  failed: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const why = failed();
    if (why) throw new Error(why);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, host);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${host}:${port} within 10s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Where a test server's processes run: on this host (the default), or in a container on a cluster's
 * network (tools/hosts/git-host.ts), where clients inside the network reach it by name.
 */
export interface ServerHost {
  /** The address the server binds. */
  listen: string;
  /** The name clients use: in URLs, certificates and known_hosts lines. */
  advertise: string;
  /** The address this process reaches the server at (to wait for its port). */
  probe: string;
  /** A port to listen on (free where the server runs). */
  port(preferred?: number): Promise<number>;
  /** Starts one of the server's processes. */
  spawn(cmd: string, args: string[], opts: SpawnOptions): ChildProcess;
}

/** Processes on this host, bound to `host` (loopback unless said). */
export function localServerHost(host = '127.0.0.1'): ServerHost {
  return {
    listen: host,
    advertise: host,
    probe: host,
    port: (preferred) => freePort(host, preferred),
    spawn: (cmd, args, opts) => spawn(cmd, args, opts),
  };
}
