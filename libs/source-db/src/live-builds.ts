import { tempTableGeneration } from './naming';
import type { LiveGenerations } from './types';

/**
 * Which of these leftover names belong to a build still holding a live lease. Asked after the names were
 * listed: a build's table (or running CREATE) exists only once its claim committed, so a live build is always
 * in the answer. Names without a generation (backups, older releases' temporaries) are never live.
 */
export async function liveBuildNames(
  names: readonly string[],
  liveGenerations?: LiveGenerations,
): Promise<ReadonlySet<string>> {
  if (!liveGenerations) return new Set();
  const generations = new Set<number>();
  for (const name of names) {
    const g = tempTableGeneration(name);
    if (g !== undefined) generations.add(g);
  }
  if (generations.size === 0) return new Set();
  const alive = await liveGenerations([...generations]);
  return new Set(
    names.filter((name) => {
      const g = tempTableGeneration(name);
      return g !== undefined && alive.has(g);
    }),
  );
}
