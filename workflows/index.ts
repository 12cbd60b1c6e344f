export { syncConnector } from './sync-connector.js';
export { keepPushSubscriptions } from './push-keeper.js';
