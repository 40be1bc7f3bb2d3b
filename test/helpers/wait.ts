/**
 * Polls `probe` every 100 ms until it returns something truthy, and returns that; fails naming
 * `what` after `timeoutMs`, far above what any wait takes on a loaded machine. Tests wait for the
 * event itself, never for a fixed time.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
