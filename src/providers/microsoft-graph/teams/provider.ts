import type { Config } from '../../../config.js';
import { sessionPerContext } from '../../session-per-context.js';
import type { SourceProvider } from '../../types.js';
import { resolveGraphIdentity } from '../identity.js';
import { listTeamChanges } from './changes.js';
import { parseTeamsConfig } from './config.js';
import { openTeamsContent } from './content.js';
import { type PerChannelFilesCursor, parseTeamsCursor, type TeamsCursor } from './cursor.js';
import { openTeamsSession } from './session.js';

/**
 * Microsoft Teams: every channel conversation as one Markdown document, the
 * files shared in messages, inline images and each channel's files folder.
 * Config keys: see config.ts (team, channels, sign-in), or ../README.md.
 */
export function createTeamsProvider(settings: Config['microsoft']): SourceProvider<TeamsCursor | PerChannelFilesCursor> {
  const contentSession = sessionPerContext((ctx) => openTeamsSession(ctx, settings));
  return {
    type: 'teams',
    validateConfig(config) {
      parseTeamsConfig(config);
      resolveGraphIdentity(config, settings);
    },
    parseCursor: (raw) => parseTeamsCursor(raw, settings.graphBaseUrl),
    listChanges: (ctx, cursor) => listTeamChanges(openTeamsSession(ctx, settings), cursor),
    openContent: (ctx, item) => openTeamsContent(contentSession(ctx), item),
  };
}
