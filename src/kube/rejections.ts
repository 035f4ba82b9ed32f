// Writes the apiserver refused for good (too large, invalid), and stores refused as too large
// before any write: remembered per object with the fingerprint of everything the write was
// built from, so that the same inputs are neither rebuilt nor sent again by a resync or a
// re-watch. Only a change of the inputs (a new fingerprint) tries again. One entry per
// refused object at most; an entry goes when the object is written or deleted.
export class RejectedWrites {
  private readonly byKey = new Map<string, string>();

  blocks(key: string, fingerprint: string): boolean {
    return this.byKey.get(key) === fingerprint;
  }

  remember(key: string, fingerprint: string): void {
    this.byKey.set(key, fingerprint);
  }

  forget(key: string): void {
    this.byKey.delete(key);
  }
}
