import { alertRules, comparisonLhs, dashboardQueries, withoutGrafanaVariables } from './promql';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './promql';

describe('PromQL helpers', () => {
  it('splits an alert at its last top-level comparison, ignoring matchers, strings and parentheses', () => {
    expect(comparisonLhs('sum(rate(a{outcome!="x"}[1h])) / sum(rate(a{outcome=~"y|z"}[1h])) < 0.95')).toBe(
      'sum(rate(a{outcome!="x"}[1h])) / sum(rate(a{outcome=~"y|z"}[1h]))',
    );
    expect(comparisonLhs('max(x) > 2 * max(y)')).toBe('max(x)');
    expect(comparisonLhs('a != 0')).toBe('a');
    expect(() => comparisonLhs('sum(a{b="<"})')).toThrow(/no top-level comparison/);
  });

  it('replaces Grafana range variables', () => {
    expect(withoutGrafanaVariables('rate(a[$__rate_interval]) + increase(b[$__range])')).toBe(
      'rate(a[1m]) + increase(b[10m])',
    );
  });
});

describe('Grafana dashboard and alert rules', () => {
  it('has the panels the operators asked for', () => {
    const titles = new Set(dashboardQueries().map((q) => q.panel));
    for (const t of [
      'Refresh success rate',
      'Refresh duration p50 / p95',
      'Failed models per run',
      'Models by state',
      'Top 10 stalest models',
      'Staleness against target',
      'Consumer lag by group',
      'Dead letters',
      'Memory use',
    ]) {
      expect(titles).toContain(t);
    }
  });

  it('alerts carry the operator-guide thresholds', () => {
    const byName = new Map(alertRules().map((r) => [r.alert, r.expr.replace(/\s+/g, ' ')]));
    expect(byName.get('ModelRefreshSuccessRateLow')).toMatch(/< 0\.95$/);
    expect(byName.get('ModelRefreshSlow')).toMatch(/> 1800$/);
    expect(byName.get('ModelRefreshRunManyFailures')).toContain('le="5"');
    expect(byName.get('ModelPersistenceMemoryHigh')).toMatch(/> 0\.8$/);
    // the limit gauge is max_staleness when a model has one, else twice its schedule interval
    expect(byName.get('ModelCacheStale')).toContain(
      '> max by (model_id, model_name, db_id) (model_persistence_model_staleness_limit)',
    );
    expect(byName.get('DeadLetterTopicNotEmpty')).toMatch(/> 0$/);
    for (const r of alertRules()) expect(r.annotations?.summary).toBeTruthy();
  });

  it('every alert is explained in the README section "Operating it"', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const doc = readme.slice(readme.indexOf('## Operating it'));
    for (const r of alertRules()) expect(doc).toContain(r.alert);
  });
});
