import {
  checkWithModelReferences,
  downstreamOf,
  findReferenceCycle,
  modelReferences,
  substituteModelReferences,
  upstreamFirst,
  upstreamOf,
} from './model-references';

describe('model references ({{#id}})', () => {
  it('finds each referenced card once, with or without a slug', () => {
    expect(
      modelReferences('select * from {{#12}} a join {{#7-orders-by-day}} b on true join {{ #12 }} c'),
    ).toEqual([12, 7]);
    expect(modelReferences('select 1 /* {{12}} {#3} */')).toEqual([]);
  });

  it('substitutes every reference', () => {
    expect(substituteModelReferences('select * from {{#1}} x, {{#2-a}} y', (id) => `t${id}`)).toBe(
      'select * from t1 x, t2 y',
    );
  });

  it('checks SQL with references as plain identifiers and puts them back as written', () => {
    const seen: string[] = [];
    const out = checkWithModelReferences('select * from {{#12-orders}} a join {{#3}} b on true;', (sql) => {
      seen.push(sql);
      return sql.replace(/;$/, '');
    });
    expect(seen).toEqual(['select * from mp_model_ref_0_ a join mp_model_ref_1_ b on true;']);
    expect(out).toBe('select * from {{#12-orders}} a join {{#3}} b on true');
  });

  it('finds a cycle through the start, and none in a diamond', () => {
    const g: Record<number, number[]> = { 1: [2], 2: [3], 3: [1], 4: [5, 6], 5: [7], 6: [7], 7: [] };
    const refs = (id: number) => g[id] ?? [];
    expect(findReferenceCycle(1, refs)).toEqual([1, 2, 3, 1]);
    expect(findReferenceCycle(4, refs)).toBeNull();
    expect(findReferenceCycle(8, () => [8])).toEqual([8, 8]);
  });

  it('orders upstream models first, through models outside the run, keeping the input order otherwise', () => {
    const g: Record<number, number[]> = { 1: [9], 9: [3], 2: [], 3: [], 4: [1] };
    const order = upstreamFirst(
      [4, 1, 2, 3],
      (x) => x,
      (id) => g[id] ?? [],
    );
    expect(order).toEqual([3, 1, 4, 2]);
    expect(
      upstreamFirst(
        [5, 6],
        (x) => x,
        () => [],
      ),
    ).toEqual([5, 6]);
  });

  it('walks upstream and downstream with depths', () => {
    const all = [
      { id: 1, refs: [] },
      { id: 2, refs: [1] },
      { id: 3, refs: [2] },
      { id: 4, refs: [1, 3] },
    ];
    const refs = (id: number) => all.find((m) => m.id === id)?.refs ?? [];
    expect(downstreamOf(1, all)).toEqual([
      { id: 2, depth: 1 },
      { id: 4, depth: 1 },
      { id: 3, depth: 2 },
    ]);
    expect(upstreamOf(4, refs)).toEqual([
      { id: 1, depth: 1 },
      { id: 3, depth: 1 },
      { id: 2, depth: 2 },
    ]);
  });
});
