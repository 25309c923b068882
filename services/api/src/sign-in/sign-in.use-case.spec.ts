import { sessionName } from './sign-in.use-case';

describe('sessionName', () => {
  it('names the admin a session acts for, also for a link minted inside a session', () => {
    expect(sessionName('bootstrap')).toBe('console session of bootstrap');
    expect(sessionName('console session of bootstrap')).toBe('console session of bootstrap');
    expect(sessionName('x'.repeat(200))).toHaveLength(100);
  });
});
