/**
 * The rule for the schema and table names a project may choose (a Postgres destination's schema,
 * a connection sync config's schema and tables): lower-case letters, digits and underscores,
 * starting with a letter or an underscore, at most 63 characters (Postgres's limit; it would cut a
 * longer name silently), and not a name Postgres reserves for itself (`pg_*`, `information_schema`).
 * Names Trellis derives itself (`<provider>_<object>`) are made of the same characters.
 */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Why `name` cannot be used as a schema or table name, or undefined when it can. */
export function identifierProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'must be a string';
  if (!IDENTIFIER.test(name)) {
    return 'must be 1 to 63 lower-case letters, digits or underscores, not starting with a digit';
  }
  if (name.startsWith('pg_') || name === 'information_schema') return 'is reserved by Postgres';
  return undefined;
}
