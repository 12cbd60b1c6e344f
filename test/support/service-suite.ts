import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { Config } from '../../src/config.js';
import type { RunningService } from '../../src/service.js';
import { startDriveEmulator, type DriveEmulator } from '../emulators/drive/index.js';
import { startGraphEmulator, type GraphEmulator } from '../emulators/graph/index.js';
import { createUser, documentProcessReader, resetDatabase, resetJetStream, testConfig } from './integration.js';
import { openObserver, type Observer } from './observer.js';
import { startTestService, terminateOpenSyncs } from './service-harness.js';

/**
 * The setup every end-to-end file shares, so that a file states only its
 * scenario: the source emulators it asks for, settings that point the service
 * at them (with a bucket and a task queue of the file's own), a clean JetStream,
 * the service itself, and before each test the emulators reset, empty tables
 * and a new EchoMind user. Everything it started is stopped after the file.
 */
export interface SuiteOptions {
  /** The Microsoft Graph emulator (OneDrive, SharePoint and Teams). */
  graph?: boolean;
  /** The Google Drive emulator, or how to start one (a server with a hook of the test's own). */
  drive?: boolean | (() => Promise<DriveEmulator>);
  /** More settings (names from src/config.ts), given the suite with its emulators started. */
  env?: Record<string, string> | ((suite: Pick<Suite, 'graph' | 'drive'>) => Record<string, string> | Promise<Record<string, string>>);
  /** The service in this process (the default), or none: the file runs the service its own way (spawned, built). */
  service?: boolean;
  /** The test's own clients on the stack (rows, objects, stream, Temporal), which outlive the service's. */
  observer?: boolean;
  /** Read the DocumentProcessRequests the service publishes; before each test, drain what is left (waiting this long). */
  readerDrainMs?: number;
  /**
   * Before each test (the default): emulators reset, empty tables and a new user. Once: empty tables
   * before the file's first test, and its tests build on each other's state.
   */
  reset?: 'each' | 'once';
}

export type DocumentReader = Awaited<ReturnType<typeof documentProcessReader>>;

export interface Suite {
  readonly config: Config;
  readonly service: RunningService;
  readonly graph: GraphEmulator;
  readonly drive: DriveEmulator;
  readonly observer: Observer;
  readonly reader: DocumentReader;
  /** The user created for the current test. */
  readonly userId: number;
}

/**
 * Registers the file's hooks and returns the suite, whose parts exist once its
 * beforeAll has run. `bind`, if given, is called when a test has all it needs
 * (before each test, with that test's user; or once after beforeAll when the
 * file does not reset before each test), so a file can keep short names for the parts.
 * Asking for a part the file did not set up fails loudly.
 */
export function serviceSuite(options: SuiteOptions, bind?: (suite: Suite) => void): Suite {
  const parts: {
    config?: Config;
    service?: RunningService;
    graph?: GraphEmulator;
    drive?: DriveEmulator;
    observer?: Observer;
    reader?: DocumentReader;
    userId?: number;
  } = {};
  const part = <K extends keyof typeof parts>(name: K, setUp: string): NonNullable<(typeof parts)[K]> => {
    const value = parts[name];
    if (value === undefined) throw new Error(`this suite has no ${name}: ${setUp}`);
    return value;
  };
  const suite: Suite = {
    get config() {
      return part('config', 'it is made in beforeAll');
    },
    get service() {
      return part('service', 'the file runs without the in-process service (service: false)');
    },
    get graph() {
      return part('graph', 'ask for it with graph: true');
    },
    get drive() {
      return part('drive', 'ask for it with drive: true');
    },
    get observer() {
      return part('observer', 'ask for it with observer: true');
    },
    get reader() {
      return part('reader', 'ask for it with readerDrainMs');
    },
    get userId() {
      return part('userId', "a user is made before each test only with reset: 'each'");
    },
  };

  const reset = options.reset ?? 'each';
  /** The tables are reset through the service's pool, or the observer's when the service runs elsewhere. */
  const tables = () => parts.service?.db ?? part('observer', 'a suite without the in-process service resets its tables through observer: true').db;

  beforeAll(async () => {
    if (options.graph) parts.graph = await startGraphEmulator();
    if (options.drive) parts.drive = await (options.drive === true ? startDriveEmulator() : options.drive());
    const env = typeof options.env === 'function' ? await options.env(suite) : (options.env ?? {});
    const config = testConfig({ ...(parts.graph ? graphEnv(parts.graph) : {}), ...(parts.drive ? driveEnv(parts.drive) : {}), ...env });
    parts.config = config;
    if (options.observer) parts.observer = await openObserver(config);
    await resetJetStream(config);
    if (options.service !== false) {
      const service = await startTestService(config);
      parts.service = service;
      await terminateOpenSyncs(service);
      if (options.readerDrainMs !== undefined) parts.reader = await documentProcessReader(service.nats, config.nats.streamName);
    }
    if (reset === 'once') {
      await resetDatabase(tables());
      bind?.(suite);
    }
  });

  afterAll(async () => {
    await parts.reader?.close();
    await parts.service?.stop();
    await parts.observer?.close();
    await parts.graph?.close();
    await parts.drive?.close();
  });

  if (reset === 'each') {
    beforeEach(async () => {
      parts.graph?.reset();
      parts.drive?.reset();
      await resetDatabase(tables());
      if (options.readerDrainMs !== undefined) await suite.reader.drain(options.readerDrainMs);
      parts.userId = await createUser(tables());
      bind?.(suite);
    });
  }
  return suite;
}

/** The settings that sign the service in to the Graph emulator (app-only). */
export function graphEnv(emulator: GraphEmulator): Record<string, string> {
  return {
    MS_GRAPH_BASE_URL: emulator.settings.graphBaseUrl,
    MS_LOGIN_BASE_URL: emulator.settings.loginBaseUrl,
    MS_GRAPH_CLIENT_ID: emulator.settings.clientId,
    MS_GRAPH_CLIENT_SECRET: emulator.settings.clientSecret,
    MS_GRAPH_TENANT_ID: emulator.settings.tenantId,
  };
}

/** The settings that point the service at the Drive emulator (users sign in through their own grants). */
export function driveEnv(emulator: DriveEmulator): Record<string, string> {
  return { GOOGLE_DRIVE_BASE_URL: emulator.driveBaseUrl, GOOGLE_OAUTH_TOKEN_URL: emulator.tokenUrl };
}
