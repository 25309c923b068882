import { firesOnOwnSchedule, ownCron, resolveDatabaseCron, resolveModelCron } from './model-cron';

const on = { enabled: true, globalCron: '0 0 0/6 * * ? *' };

describe('resolveModelCron', () => {
  it("uses the card's own cron over the global one", () => {
    expect(resolveModelCron(on, { databasePersistEnabled: true, cardCron: '0 15 22 * * ? *' })).toEqual({
      source: 'model',
      cron: '0 15 22 * * ? *',
    });
  });

  it("falls back to the global cron, fired with the model's database", () => {
    expect(resolveModelCron(on, { databasePersistEnabled: true, cardCron: null })).toEqual({
      source: 'database',
      cron: '0 0 0/6 * * ? *',
    });
    expect(resolveModelCron(on, { databasePersistEnabled: true })).toEqual({
      source: 'database',
      cron: '0 0 0/6 * * ? *',
    });
    // a blank override is no override
    expect(resolveModelCron(on, { databasePersistEnabled: true, cardCron: '  ' })?.source).toBe('database');
  });

  it('is null when persistence is off globally or for the database, override or not', () => {
    const off = { ...on, enabled: false };
    expect(resolveModelCron(off, { databasePersistEnabled: true, cardCron: '0 15 22 * * ? *' })).toBeNull();
    expect(resolveModelCron(off, { databasePersistEnabled: true })).toBeNull();
    expect(resolveModelCron(on, { databasePersistEnabled: false, cardCron: '0 15 22 * * ? *' })).toBeNull();
    expect(resolveModelCron(on, { databasePersistEnabled: false })).toBeNull();
  });
});

describe('resolveDatabaseCron / ownCron', () => {
  it('the database schedule runs the global cron only while both switches are on', () => {
    expect(resolveDatabaseCron(on, true)).toBe('0 0 0/6 * * ? *');
    expect(resolveDatabaseCron(on, false)).toBeNull();
    expect(resolveDatabaseCron({ ...on, enabled: false }, true)).toBeNull();
  });

  it('trims an override and treats blank or missing as none', () => {
    expect(ownCron(' 0 0 * * * ? * ')).toBe('0 0 * * * ? *');
    expect(ownCron('')).toBeNull();
    expect(ownCron(null)).toBeNull();
    expect(ownCron(undefined)).toBeNull();
  });
});

describe('firesOnOwnSchedule', () => {
  it('is true exactly for models whose cron resolves to their own', () => {
    expect(firesOnOwnSchedule('0 15 22 * * ? *')).toBe(true);
    expect(firesOnOwnSchedule(null)).toBe(false);
    expect(firesOnOwnSchedule(' ')).toBe(false);
  });
});
