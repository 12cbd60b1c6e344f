/** The Graph emulator's public test API. */
export {
  EMULATOR_CLIENT_ID,
  EMULATOR_CLIENT_SECRET,
  EMULATOR_PUBLIC_CLIENT_ID,
  EMULATOR_SITE_ID,
  EMULATOR_TENANT,
  EMULATOR_USER,
  type GraphEmulator,
  type RecordedRequest,
  startGraphEmulator,
} from './server.js';
export type { EmulatedRequest, Fault } from './faults.js';
export type { FileOptions, StoredDrive, StoredItem } from './store.js';
export type { MembershipType, MessageInput, StoredChannel, StoredMessage, StoredTeam, TeamsStore } from './teams-store.js';
