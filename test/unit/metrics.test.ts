import { describe, expect, it } from 'vitest';
import { Counters } from '../../src/metrics.js';

describe('Counters', () => {
  it('renders nothing but a newline before anything is counted', () => {
    expect(new Counters().render()).toBe('\n');
  });

  it('counts a metric without labels', () => {
    const counters = new Counters();
    counters.inc('connector_syncs_total');
    counters.inc('connector_syncs_total');
    counters.inc('connector_syncs_total', {}, 3);
    expect(counters.get('connector_syncs_total')).toBe(5);
    expect(counters.render()).toBe('connector_syncs_total 5\n');
  });

  it('counts each label combination as its own series, whatever the order the labels are given in', () => {
    const counters = new Counters();
    counters.inc('connector_bridge_syncs_started_total', { type: 'full', source: 'onedrive' });
    counters.inc('connector_bridge_syncs_started_total', { source: 'onedrive', type: 'full' });
    counters.inc('connector_bridge_syncs_started_total', { type: 'incremental', source: 'onedrive' });
    expect(counters.get('connector_bridge_syncs_started_total', { source: 'onedrive', type: 'full' })).toBe(2);
    expect(counters.get('connector_bridge_syncs_started_total', { source: 'onedrive', type: 'incremental' })).toBe(1);
    expect(counters.get('connector_bridge_syncs_started_total')).toBe(0);
    expect(counters.render()).toBe(
      [
        'connector_bridge_syncs_started_total{source="onedrive",type="full"} 2',
        'connector_bridge_syncs_started_total{source="onedrive",type="incremental"} 1',
        '',
      ].join('\n'),
    );
  });

  it('a gauge holds the value last set (subscriptions active, read at each scrape)', () => {
    const counters = new Counters();
    counters.set('connector_push_subscriptions_active', { source: 'graph' }, 3);
    counters.set('connector_push_subscriptions_active', { source: 'graph' }, 2);
    expect(counters.render()).toBe('connector_push_subscriptions_active{source="graph"} 2\n');
  });

  it('reads 0 for a counter never incremented', () => {
    expect(new Counters().get('never_total', { reason: 'x' })).toBe(0);
  });

  it('escapes quotes, backslashes and newlines in label values as Prometheus expects', () => {
    const counters = new Counters();
    counters.inc('connector_bridge_messages_terminated_total', { reason: 'bad "type"\nC:\\path' });
    expect(counters.render()).toBe('connector_bridge_messages_terminated_total{reason="bad \\"type\\"\\nC:\\\\path"} 1\n');
  });

  it('keeps label values that differ only in escaped characters apart', () => {
    const counters = new Counters();
    counters.inc('errors_total', { reason: 'a"b' });
    counters.inc('errors_total', { reason: 'a_b' });
    counters.inc('errors_total', { reason: 'a\nb' });
    expect(counters.get('errors_total', { reason: 'a"b' })).toBe(1);
    expect(counters.get('errors_total', { reason: 'a_b' })).toBe(1);
    expect(counters.render().trim().split('\n')).toHaveLength(3);
  });

  it('renders metrics sorted by name, each with all its series together', () => {
    const counters = new Counters();
    counters.inc('b_total');
    counters.inc('a_total', { kind: 'y' });
    counters.inc('a_total_failures');
    counters.inc('a_total');
    counters.inc('a_total', { kind: 'x' });
    expect(counters.render()).toBe(['a_total 1', 'a_total{kind="x"} 1', 'a_total{kind="y"} 1', 'a_total_failures 1', 'b_total 1', ''].join('\n'));
  });

  it('sorts by code point, so upper case comes before lower case in any locale', () => {
    const counters = new Counters();
    counters.inc('b_total');
    counters.inc('B_total');
    counters.inc('a_total');
    expect(counters.render()).toBe('B_total 1\na_total 1\nb_total 1\n');
  });
});
