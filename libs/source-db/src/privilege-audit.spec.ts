import { PRIVILEGE_EXAMPLES, privilegeWarning } from './privilege-audit';

describe('privilegeWarning', () => {
  it('is null when nothing was found', () => {
    expect(privilegeWarning('reader', 'mp_cache_x_1', [], 0)).toBeNull();
  });

  it('counts every finding, lists a few, and points to the documented grants', () => {
    const findings = Array.from({ length: 8 }, (_, i) => ({ privilege: 'INSERT', on: `public.t${i}` }));
    const w = privilegeWarning('admin', 'mp_cache_x_1', findings, 42)!;
    expect(w.count).toBe(42);
    expect(w.examples).toHaveLength(PRIVILEGE_EXAMPLES);
    expect(w.message).toContain(
      'The connection user admin can change data outside its cache schema mp_cache_x_1',
    );
    expect(w.message).toContain('42 privilege(s), e.g. INSERT on public.t0, INSERT on public.t1');
    expect(w.message).toContain('docs/SECURITY.md');
  });
});
