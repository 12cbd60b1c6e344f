/** The Graph emulator's public test API. */
export {
  EMULATOR_CLIENT_ID,
  EMULATOR_CLIENT_SECRET,
  EMULATOR_PUBLIC_CLIENT_ID,
  EMULATOR_SITE_ID,
  EMULATOR_SITE_PATH,
  EMULATOR_TENANT,
  EMULATOR_USER,
  type GraphEmulator,
  startGraphEmulator,
} from './server.js';
export type { StoredChannel, StoredTeam } from './teams-store.js';
