import { loadApiConfig } from './config';

describe('api config', () => {
  it('watches the lag of the refresher group it is configured with, and of the other services’ groups', () => {
    const groups = (env: Record<string, string>) =>
      loadApiConfig(env).lagGroups.map((g) => ('group' in g ? g.group : `${g.groupPrefix}*`));
    expect(groups({})).toEqual(['refresher', 'notifier', 'history-projector', 'scheduler-*']);
    expect(groups({ REFRESHER_CONSUMER_GROUP: 'refreshers-eu' })).toEqual([
      'refreshers-eu',
      'notifier',
      'history-projector',
      'scheduler-*',
    ]);
  });
});
