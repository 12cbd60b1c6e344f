export { createGoogleDriveProvider } from './provider.js';
export { parseDriveCursor, type DriveCursor } from './cursor.js';
export { parseDriveConfig, type DriveConnectorConfig } from './drive-config.js';
export { forgetDriveTokens } from './token-cache.js';
