import { MockAgent } from 'undici';

/** One answer a fake source gives: a status, a body and its header fields. */
export interface CannedAnswer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

/**
 * A dispatcher for SourceHttp's `dispatcher` option that answers the requests to `origin` with
 * `answers` in turn, whatever their method and path (the last one repeats), and lets nothing reach
 * the network.
 */
export function cannedAnswers(origin: string, ...answers: CannedAnswer[]): MockAgent {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const pool = agent.get(origin);
  answers.forEach((answer, i) => {
    const reply = pool.intercept({ path: () => true, method: () => true }).reply(answer.status, answer.body ?? '', { headers: answer.headers ?? {} });
    if (i === answers.length - 1) reply.persist();
  });
  return agent;
}

/** A 200 with an empty JSON object. */
export const okJson = (headers: Record<string, string> = {}): CannedAnswer => ({ status: 200, body: '{}', headers: { 'content-type': 'application/json', ...headers } });
