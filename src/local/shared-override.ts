/**
 * A process-wide override that overlapping users share: `install` runs for the first user, and what it returns (the
 * undoing) runs when the last one gives it back. Each user gets a give-back that counts once, however often called.
 */
export function sharedOverride(install: () => () => void): () => () => void {
  let users = 0;
  let undo: (() => void) | undefined;
  return () => {
    if (users === 0) undo = install();
    users += 1;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      users -= 1;
      if (users > 0) return;
      undo?.();
      undo = undefined;
    };
  };
}
