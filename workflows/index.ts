export { syncConnector } from './sync-connector.js';
