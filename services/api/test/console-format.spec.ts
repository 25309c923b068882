import { limitText, runOutcome, span, staleReason } from '../console/src/format';

/* The admin console's freshness and run-outcome wording (services/api/console/src/format.ts). */
describe('console format helpers', () => {
  const model = {
    stale: false,
    max_staleness: null,
    staleness_limit_seconds: null,
    staleness_limit_source: null,
    staleness_seconds: null,
  };

  it('span: seconds exactly in words', () => {
    expect(span(0)).toBe('0 s');
    expect(span(90)).toBe('1 min 30 s');
    expect(span(1800)).toBe('30 min');
    expect(span(3600)).toBe('1 h');
    expect(span(129_600)).toBe('1 d 12 h');
    expect(span(31_536_000)).toBe('365 d');
  });

  it('limitText: the limit the API chose, by its source', () => {
    expect(limitText(model)).toBeNull();
    expect(
      limitText({
        ...model,
        max_staleness: 'PT30M',
        staleness_limit_seconds: 1800,
        staleness_limit_source: 'max_staleness',
      }),
    ).toBe('its freshness target PT30M (30 min)');
    expect(
      limitText({ ...model, staleness_limit_seconds: 43_200, staleness_limit_source: 'schedule_interval' }),
    ).toBe('twice its schedule interval (12 h)');
    // an api without staleness_limit_source: the figure only, no guessed reason
    expect(limitText({ ...model, staleness_limit_seconds: 600, staleness_limit_source: undefined })).toBe(
      '10 min',
    );
  });

  it('staleReason: null when fresh; how long and beyond which limit when stale', () => {
    expect(staleReason({ ...model, staleness_seconds: 99_999, staleness_limit_seconds: 60 })).toBeNull();
    expect(
      staleReason({
        ...model,
        stale: true,
        max_staleness: 'PT1M',
        staleness_limit_seconds: 60,
        staleness_limit_source: 'max_staleness',
        staleness_seconds: 300,
      }),
    ).toBe('Not current for 5 min: beyond its freshness target PT1M (1 min)');
    expect(
      staleReason({
        ...model,
        stale: true,
        staleness_limit_seconds: 43_200,
        staleness_limit_source: 'schedule_interval',
        staleness_seconds: null,
      }),
    ).toBe('Never refreshed: beyond twice its schedule interval (12 h)');
  });

  describe('runOutcome: one model in a refresh run', () => {
    const run = (status: string, details: Record<string, unknown> | null) => ({
      status,
      task_details: details,
    });

    it('unchanged (change detection) is its own outcome, not "built"', () => {
      const t = run('success', {
        success: 2,
        unchanged: 1,
        models: { '7': { outcome: 'unchanged', 'ended-at': 'x' }, '8': { mode: 'full', 'ended-at': 'x' } },
      });
      expect(runOutcome(t, 7)).toEqual({
        outcome: 'unchanged',
        text: 'unchanged: data verified unchanged, not rebuilt',
      });
      expect(runOutcome(t, 8)).toEqual({ outcome: 'built', text: 'built (full)' });
    });

    it('failed, skipped for an upstream, running, and plain successes', () => {
      const failed = run('failed', { 'error-details': [{ 'card-id': 3, error: 'boom' }] });
      expect(runOutcome(failed, 3).outcome).toBe('failed');
      expect(runOutcome(failed, 4).outcome).toBe('unknown');
      const skipped = run('failed', {
        models: { '5': { skipped: 'upstream_failed', 'upstream-card-id': 3, 'ended-at': 'x' } },
      });
      expect(runOutcome(skipped, 5)).toEqual({
        outcome: 'skipped',
        text: 'skipped: model 3 it reads did not build',
      });
      expect(runOutcome(run('started', {}), 1).outcome).toBe('running');
      expect(runOutcome(run('success', null), 1)).toEqual({ outcome: 'built', text: 'built' });
    });
  });
});
