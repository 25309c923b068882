/**
 * A binary min-heap of keys ordered by due time, indexed by key so an update or removal is O(log n).
 * The scheduler keeps one entry per schedule: a tick pops only the entries that are due.
 */
export class ScheduleHeap {
  private readonly keys: string[] = [];
  private readonly dues: number[] = [];
  private readonly index = new Map<string, number>();

  get size(): number {
    return this.keys.length;
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  dueOf(key: string): number | undefined {
    const i = this.index.get(key);
    return i === undefined ? undefined : this.dues[i];
  }

  /** Inserts the key, or moves it to its new due time. */
  upsert(key: string, due: number): void {
    const i = this.index.get(key);
    if (i === undefined) {
      this.keys.push(key);
      this.dues.push(due);
      this.index.set(key, this.keys.length - 1);
      this.up(this.keys.length - 1);
      return;
    }
    const old = this.dues[i];
    this.dues[i] = due;
    if (due < old) this.up(i);
    else this.down(i);
  }

  remove(key: string): boolean {
    const i = this.index.get(key);
    if (i === undefined) return false;
    const last = this.keys.length - 1;
    if (i !== last) this.swap(i, last);
    this.keys.pop();
    this.dues.pop();
    this.index.delete(key);
    if (i < this.keys.length) {
      this.up(i);
      this.down(i);
    }
    return true;
  }

  peek(): { key: string; due: number } | undefined {
    return this.keys.length ? { key: this.keys[0], due: this.dues[0] } : undefined;
  }

  pop(): { key: string; due: number } | undefined {
    const top = this.peek();
    if (top) this.remove(top.key);
    return top;
  }

  /** Pops every entry due at or before `now`, earliest first: O(k log n) for k due entries. */
  popDue(now: number): { key: string; due: number }[] {
    const out: { key: string; due: number }[] = [];
    while (this.keys.length && this.dues[0] <= now) out.push(this.pop()!);
    return out;
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.dues[p] <= this.dues[i]) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const n = this.keys.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.dues[l] < this.dues[m]) m = l;
      if (r < n && this.dues[r] < this.dues[m]) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    [this.keys[a], this.keys[b]] = [this.keys[b], this.keys[a]];
    [this.dues[a], this.dues[b]] = [this.dues[b], this.dues[a]];
    this.index.set(this.keys[a], a);
    this.index.set(this.keys[b], b);
  }
}
