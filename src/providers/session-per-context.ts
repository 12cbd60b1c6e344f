import type { SourceContext } from './types.js';

/**
 * One session per SourceContext: the files one activity transfers share the
 * session its first file opened (connector config parsed, the HTTP layer
 * signed in) instead of building it again for every file. A context lives as
 * long as its activity, so the session goes with it. Only for sessions that
 * hold no listing state of their own.
 */
export function sessionPerContext<S>(open: (ctx: SourceContext) => S): (ctx: SourceContext) => S {
  const sessions = new WeakMap<SourceContext, S>();
  return (ctx) => {
    const known = sessions.get(ctx);
    if (known !== undefined) return known;
    const session = open(ctx);
    sessions.set(ctx, session);
    return session;
  };
}
