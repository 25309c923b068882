import {
  afterAnnouncement,
  afterSilentRepeat,
  AlertStateView,
  applySuccess,
  decideFailure,
  UNKNOWN_ERROR_CLASS,
} from './alert-policy';

const H = 60 * 60 * 1000;
const WINDOW = 24 * H;
const t0 = new Date('2026-11-01T00:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const fail = (ms: number, errorClass = 'query', runId = 'r') => ({ runId, errorClass, endedAt: at(ms) });

describe('alert de-duplication policy', () => {
  it('announces the first failure of a model', () => {
    expect(decideFailure(null, fail(0), WINDOW)).toEqual({ announce: true, reason: 'first-failure' });
  });

  it('stays silent for the same error class inside the window and speaks again once it elapsed', () => {
    const s = afterAnnouncement(null, fail(0));
    expect(decideFailure(s, fail(6 * H), WINDOW)).toEqual({
      announce: false,
      reason: 'repeat-within-window',
    });
    expect(decideFailure(s, fail(WINDOW - 1), WINDOW).announce).toBe(false);
    expect(decideFailure(s, fail(WINDOW), WINDOW)).toEqual({ announce: true, reason: 'window-elapsed' });
  });

  it('announces a different error class inside the window', () => {
    const s = afterAnnouncement(null, fail(0, 'query'));
    expect(decideFailure(s, fail(H, 'permission'), WINDOW)).toEqual({
      announce: true,
      reason: 'new-error-class',
    });
  });

  it('an unknown class (a run decided without its per-model event) is not a new class, either way round', () => {
    const known = afterAnnouncement(null, fail(0, 'query'));
    expect(decideFailure(known, fail(H, UNKNOWN_ERROR_CLASS), WINDOW)).toEqual({
      announce: false,
      reason: 'repeat-within-window',
    });
    const unknown = afterAnnouncement(null, fail(0, UNKNOWN_ERROR_CLASS));
    expect(decideFailure(unknown, fail(H, 'query'), WINDOW).announce).toBe(false);
    // the real class is learnt silently, so a really different class later is still news
    const learnt = afterSilentRepeat(unknown, fail(H, 'query'))!;
    expect(learnt).toMatchObject({ announcedErrorClass: 'query', announcedAt: at(0) });
    expect(decideFailure(learnt, fail(2 * H, 'query'), WINDOW).announce).toBe(false);
    expect(decideFailure(learnt, fail(2 * H, 'permission'), WINDOW)).toEqual({
      announce: true,
      reason: 'new-error-class',
    });
    expect(afterSilentRepeat(known, fail(H, 'query'))).toBeNull();
    expect(afterSilentRepeat(unknown, fail(H, UNKNOWN_ERROR_CLASS))).toBeNull();
  });

  it('always announces persisted → error, even with the same class inside the window', () => {
    const announced = afterAnnouncement(null, fail(0));
    const { recovered, next } = applySuccess(announced, at(H));
    expect(recovered).toBe(true);
    expect(next.announced).toBe(false);
    expect(decideFailure(next, fail(2 * H), WINDOW)).toEqual({ announce: true, reason: 'after-success' });
  });

  it('a success older than the announcement (a late event) neither recovers nor re-arms', () => {
    const announced = afterAnnouncement(null, fail(2 * H));
    const { recovered, next } = applySuccess(announced, at(H));
    expect(recovered).toBe(false);
    expect(next.announced).toBe(true);
    expect(decideFailure(next, fail(3 * H), WINDOW).announce).toBe(false);
  });

  it('recovers only once: a second success is not another recovery', () => {
    const first = applySuccess(afterAnnouncement(null, fail(0)), at(H));
    const second = applySuccess(first.next, at(2 * H));
    expect(first.recovered).toBe(true);
    expect(second.recovered).toBe(false);
    expect(second.next.lastSuccessAt).toEqual(at(2 * H));
  });

  it('a success of a never-announced model is not a recovery', () => {
    expect(applySuccess(null, at(0)).recovered).toBe(false);
  });

  it('keeps the newest success time when successes arrive out of order', () => {
    const s: AlertStateView = { ...afterAnnouncement(null, fail(0)), lastSuccessAt: at(5 * H) };
    expect(applySuccess(s, at(4 * H)).next.lastSuccessAt).toEqual(at(5 * H));
  });

  it('a window of 0 announces every failure', () => {
    const s = afterAnnouncement(null, fail(0));
    expect(decideFailure(s, fail(0), 0).announce).toBe(true);
  });
});
