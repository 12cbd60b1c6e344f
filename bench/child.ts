import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** A forked helper process (emulator, baseline) answering numbered requests over IPC. */
export class ChildRpc<Ready = unknown> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<Ready>;

  private constructor(
    readonly child: ChildProcess,
    readonly name: string,
  ) {
    this.ready = new Promise<Ready>((resolve, reject) => {
      this.pending.set(0, { resolve: resolve as (v: unknown) => void, reject });
    });
    child.on('message', (m: { id: number; body?: unknown; error?: string }) => {
      const waiter = this.pending.get(m.id);
      if (!waiter) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) waiter.reject(new Error(`${name}: ${m.error}`));
      else waiter.resolve(m.body);
    });
    child.on('exit', (code, signal) => {
      for (const w of this.pending.values()) w.reject(new Error(`${name} exited (${signal ?? code}) before answering`));
      this.pending.clear();
    });
  }

  static start<R>(name: string, modulePath: string, options: { execPath: string; cwd: string; env: NodeJS.ProcessEnv; execArgv?: string[]; discardStdout?: boolean }): ChildRpc<R> {
    const child = fork(modulePath, [], {
      execPath: options.execPath,
      execArgv: [...(options.execArgv ?? []), '--import', 'tsx'],
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', options.discardStdout ? 'ignore' : 'inherit', 'inherit', 'ipc'],
    });
    return new ChildRpc<R>(child, name);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  call<T>(request: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ ...request, id });
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    const timeout = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
    // Asked to close, it answers and then exits on its own (within the second serveRequests allows).
    await Promise.race([this.call({ op: 'close' }).then(() => Promise.race([exited, timeout(3000)])), timeout(5000)]).catch(() => undefined);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await exited;
  }
}

/**
 * The forked process's side: answers each numbered request with what `handle` returns (or
 * resolves to), or with its error; `{ op: 'close' }` runs `close`, answers and disconnects. Then
 * tells the parent it is ready (request 0) with `ready`.
 */
export function serveRequests<Request extends { op: string }>(handle: (request: Exclude<Request, { op: 'close' }>) => unknown, close: () => Promise<unknown>, ready: unknown = {}): void {
  process.on('message', (message: Request & { id: number }) => {
    const answer = (body: unknown) => process.send?.({ id: message.id, body });
    const fail = (e: unknown) => process.send?.({ id: message.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    if (message.op === 'close') {
      void close().then(() => {
        answer({});
        process.disconnect();
        // Whatever still holds the loop (an idle keep-alive socket) cannot keep it past a second; a
        // clean exit also writes what --cpu-prof recorded.
        setTimeout(() => process.exit(0), 1000).unref();
      }, fail);
      return;
    }
    try {
      Promise.resolve(handle(message as unknown as Exclude<Request, { op: 'close' }>)).then(answer, fail);
    } catch (e) {
      fail(e);
    }
  });
  process.send?.({ id: 0, body: ready });
}
