/** The newest build (successful or failed refresh) of one persisted model, from the refresh-result topics. */
export interface LastBuild {
  persistedInfoId: number;
  cardId: number;
  databaseId: number;
  outcome: 'success' | 'error';
  /** Rows written (null: failed, or the engine did not say). */
  rows: number | null;
  durationMs: number;
  endedAt: string;
  error: string | null;
}

/** Last build per persisted model; a redelivered or older event never replaces a newer one. */
export class LastBuildLog {
  private readonly byModel = new Map<number, LastBuild>();

  add(build: LastBuild): void {
    const current = this.byModel.get(build.persistedInfoId);
    if (current && Date.parse(current.endedAt) > Date.parse(build.endedAt)) return;
    this.byModel.set(build.persistedInfoId, build);
  }

  all(): LastBuild[] {
    return [...this.byModel.values()].sort((a, b) => a.persistedInfoId - b.persistedInfoId);
  }
}
