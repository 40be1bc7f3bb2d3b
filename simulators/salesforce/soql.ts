import {
  type FieldDef,
  id15Of,
  isCustom,
  type ObjectSchema,
  objectNamed,
  type SalesforceObject,
  SCHEMAS,
  type Value,
} from './schema.ts';

/**
 * The subset of SOQL the simulator understands:
 *
 *   SELECT field, ... | FIELDS(ALL) | FIELDS(STANDARD) | FIELDS(CUSTOM) | COUNT() FROM object
 *   [WHERE condition [AND condition]...]
 *   [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST]]
 *   [LIMIT n]
 *
 * A condition compares a field with a literal of the field's type (=, !=, <>, <, <=, >, >=,
 * IN (...), NOT IN (...)). Anything else is answered with MALFORMED_QUERY, as Salesforce answers
 * SOQL it cannot parse; unknown objects and fields get INVALID_TYPE and INVALID_FIELD.
 */

export type Operator = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'IN' | 'NOT IN';

export interface Condition {
  field: FieldDef;
  op: Operator;
  /** In the field's internal form: datetimes as epoch ms, ids as their 15-character form. */
  value: Value | Value[];
}

export interface Query {
  object: SalesforceObject;
  schema: ObjectSchema;
  fields: FieldDef[];
  where: Condition[];
  orderBy?: { field: FieldDef; descending: boolean; nullsLast: boolean };
  limit?: number;
  /** SELECT COUNT() FROM ...: only totalSize is answered. */
  count?: boolean;
}

export class SoqlError extends Error {
  constructor(
    readonly errorCode:
      | 'MALFORMED_QUERY'
      | 'INVALID_FIELD'
      | 'INVALID_TYPE'
      | 'INVALID_QUERY_FILTER_OPERATOR',
    message: string,
  ) {
    super(message);
  }
}

type TokenKind = 'string' | 'datetime' | 'date' | 'number' | 'word' | 'op' | 'punct';
interface Token {
  kind: TokenKind;
  text: string;
  at: number;
}

const TOKEN =
  /\s+|('(?:\\.|[^'\\])*')|(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))|(\d{4}-\d{2}-\d{2})(?![\dT])|(-?\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_.]*(?::\d+)?)|(!=|<>|<=|>=|=|<|>)|([(),])/y;
const KINDS: TokenKind[] = ['string', 'datetime', 'date', 'number', 'word', 'op', 'punct'];

function tokenize(soql: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < soql.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(soql);
    if (!m) throw malformed(soql, at, `unexpected token: '${soql.slice(at).split(/\s/)[0]}'`);
    const group = m.slice(1).findIndex((g) => g !== undefined);
    if (group >= 0) tokens.push({ kind: KINDS[group]!, text: m[group + 1]!, at });
  }
  return tokens;
}

/** Salesforce's parser errors point at the offending column under the query text. */
function malformed(soql: string, at: number, message: string): SoqlError {
  const column = Math.max(0, at);
  return new SoqlError(
    'MALFORMED_QUERY',
    `\n${soql}\n${' '.repeat(column)}^\nERROR at Row:1:Column:${column + 1}\n${message}`,
  );
}

const RESERVED = new Set([
  'select',
  'from',
  'where',
  'and',
  'or',
  'not',
  'order',
  'by',
  'limit',
  'offset',
  'group',
]);

function unquote(quoted: string): string {
  return quoted
    .slice(1, -1)
    .replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t', b: '\b', f: '\f' })[c] ?? c);
}

/** Parses an ISO-8601 SOQL dateTime literal (Z, +hh:mm or +hhmm offsets) to epoch ms. */
export function parseDateTime(text: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?)(Z|[+-]\d{2}:?\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const zone = m[2] === 'Z' ? 'Z' : `${m[2]!.slice(0, 3)}:${m[2]!.slice(-2)}`;
  const ms = Date.parse(`${m[1]}${zone}`);
  return Number.isNaN(ms) ? undefined : ms;
}

export function parseSoql(soql: string): Query {
  const tokens = tokenize(soql);
  let i = 0;
  const peek = () => tokens[i];
  const endAt = () => (tokens[i] ? tokens[i]!.at : soql.length);
  const isWord = (word: string, t = peek()) => t?.kind === 'word' && t.text.toLowerCase() === word;
  const expectWord = (word: string) => {
    if (!isWord(word)) {
      throw malformed(soql, endAt(), peek() ? `unexpected token: '${peek()!.text}'` : `expecting '${word}'`);
    }
    i++;
  };
  const unsupported = (what: string) =>
    malformed(soql, endAt(), `${what} is not supported by the Salesforce simulator's SOQL subset`);

  if (tokens.length === 0) throw new SoqlError('MALFORMED_QUERY', 'A query string has to be specified');
  expectWord('select');

  // The select list, resolved against the object once FROM is read.
  const selected: Token[] = [];
  let fieldsFunction: string | undefined;
  let count = false;
  if (isWord('count') && tokens[i + 1]?.text === '(' && tokens[i + 2]?.text === ')') {
    count = true;
    i += 3;
  } else if (isWord('fields') && tokens[i + 1]?.text === '(') {
    const arg = tokens[i + 2];
    if (
      !arg ||
      !['all', 'standard', 'custom'].includes(arg.text.toLowerCase()) ||
      tokens[i + 3]?.text !== ')'
    ) {
      throw unsupported('FIELDS() other than FIELDS(ALL), FIELDS(STANDARD) and FIELDS(CUSTOM)');
    }
    fieldsFunction = arg.text.toUpperCase();
    i += 4;
  } else {
    for (;;) {
      const t = peek();
      if (!t || t.kind !== 'word' || RESERVED.has(t.text.toLowerCase())) {
        throw malformed(soql, endAt(), t ? `unexpected token: '${t.text}'` : 'unexpected end of query');
      }
      if (tokens[i + 1]?.text === '(') throw unsupported(`${t.text}() in the select list`);
      if (t.text.includes('.')) throw unsupported(`the relationship field ${t.text}`);
      selected.push(t);
      i++;
      if (peek()?.text !== ',') break;
      i++;
    }
  }
  expectWord('from');
  const objectToken = peek();
  if (!objectToken || objectToken.kind !== 'word') throw malformed(soql, endAt(), 'unexpected end of query');
  i++;
  const object = objectNamed(objectToken.text);
  if (!object) {
    throw new SoqlError(
      'INVALID_TYPE',
      `\n${soql}\n${' '.repeat(objectToken.at)}^\nERROR at Row:1:Column:${objectToken.at + 1}\nsObject type '${objectToken.text}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
    );
  }
  const schema = SCHEMAS.get(object)!;
  const field = (t: Token): FieldDef => {
    const f = schema.byLowerName.get(t.text.toLowerCase());
    if (!f) {
      throw new SoqlError(
        'INVALID_FIELD',
        `\n${soql}\n${' '.repeat(t.at)}^\nERROR at Row:1:Column:${t.at + 1}\nNo such column '${t.text}' on entity '${object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
      );
    }
    return f;
  };
  const fields = count
    ? []
    : fieldsFunction === 'ALL'
      ? schema.fields
      : fieldsFunction
        ? schema.fields.filter((f) => isCustom(f.name) === (fieldsFunction === 'CUSTOM'))
        : selected.map(field);
  const seen = new Set<string>();
  for (const [k, f] of fields.entries()) {
    if (seen.has(f.name)) throw malformed(soql, selected[k]?.at ?? 0, `duplicate field selected: ${f.name}`);
    seen.add(f.name);
  }

  const where: Condition[] = [];
  if (isWord('where')) {
    i++;
    for (;;) {
      where.push(condition());
      if (isWord('or')) throw unsupported('OR');
      if (!isWord('and')) break;
      i++;
    }
  }

  let orderBy: Query['orderBy'];
  if (isWord('order')) {
    i++;
    expectWord('by');
    const t = peek();
    if (!t || t.kind !== 'word') throw malformed(soql, endAt(), 'unexpected end of query');
    if (t.text.includes('.')) throw unsupported(`ordering by the relationship field ${t.text}`);
    i++;
    const f = field(t);
    let descending = false;
    if (isWord('asc')) i++;
    else if (isWord('desc')) {
      descending = true;
      i++;
    }
    let nullsLast = descending;
    if (isWord('nulls')) {
      i++;
      if (isWord('first')) nullsLast = false;
      else if (isWord('last')) nullsLast = true;
      else throw malformed(soql, endAt(), "expecting 'FIRST' or 'LAST'");
      i++;
    }
    if (peek()?.text === ',') throw unsupported('ORDER BY on more than one field');
    orderBy = { field: f, descending, nullsLast };
  }

  let limit: number | undefined;
  if (isWord('limit')) {
    i++;
    const t = peek();
    if (t?.kind !== 'number' || !/^\d+$/.test(t.text)) {
      throw malformed(soql, endAt(), t ? `unexpected token: '${t.text}'` : 'unexpected end of query');
    }
    limit = Number(t.text);
    i++;
  }
  if (peek()) {
    const t = peek()!;
    if (['offset', 'group', 'having', 'for', 'with', 'using', 'typeof'].includes(t.text.toLowerCase())) {
      throw unsupported(t.text.toUpperCase());
    }
    throw malformed(soql, t.at, `unexpected token: '${t.text}'`);
  }
  // FIELDS(STANDARD) is bounded by the object's definition; ALL and CUSTOM grow with the org's fields.
  if (fieldsFunction !== undefined && fieldsFunction !== 'STANDARD' && (limit === undefined || limit > 200)) {
    throw malformed(
      soql,
      0,
      'The SOQL FIELDS function must have a LIMIT of at most 200, or use FIELDS(STANDARD) instead',
    );
  }
  if (count && orderBy) throw malformed(soql, 0, 'ORDER BY is not allowed with COUNT()');
  return { object, schema, fields, where, orderBy, limit, ...(count ? { count } : {}) };

  function condition(): Condition {
    const t = peek();
    if (t?.text === '(') throw unsupported('a parenthesised condition');
    if (isWord('not')) throw unsupported('NOT');
    if (!t || t.kind !== 'word')
      throw malformed(soql, endAt(), t ? `unexpected token: '${t.text}'` : 'unexpected end of query');
    if (t.text.includes('.')) throw unsupported(`filtering on the relationship field ${t.text}`);
    i++;
    const f = field(t);
    let op: Operator;
    const o = peek();
    if (o?.kind === 'op') {
      op = (o.text === '<>' ? '!=' : o.text) as Operator;
      i++;
    } else if (isWord('in')) {
      op = 'IN';
      i++;
    } else if (isWord('not') && isWord('in', tokens[i + 1])) {
      op = 'NOT IN';
      i += 2;
    } else if (isWord('like') || isWord('includes') || isWord('excludes')) {
      throw unsupported(o!.text.toUpperCase());
    } else {
      throw malformed(soql, endAt(), o ? `unexpected token: '${o.text}'` : 'unexpected end of query');
    }
    if (op === 'IN' || op === 'NOT IN') {
      if (peek()?.text !== '(') throw malformed(soql, endAt(), "expecting '('");
      i++;
      const values: Value[] = [];
      for (;;) {
        values.push(literal(f, op));
        if (peek()?.text === ')') break;
        if (peek()?.text !== ',') throw malformed(soql, endAt(), "expecting ',' or ')'");
        i++;
      }
      i++;
      return { field: f, op, value: values };
    }
    return { field: f, op, value: literal(f, op) };
  }

  function literal(f: FieldDef, op: Operator): Value {
    const t = peek();
    if (!t) throw malformed(soql, endAt(), 'unexpected end of query');
    i++;
    if (isWord('null', t)) {
      if (op !== '=' && op !== '!=' && op !== 'IN' && op !== 'NOT IN') {
        throw malformed(soql, t.at, `invalid operator on null: ${op}`);
      }
      return null;
    }
    const wrongType = (expected: string, quoted: boolean) =>
      new SoqlError(
        'INVALID_FIELD',
        `\n${soql}\n${' '.repeat(t.at)}^\nERROR at Row:1:Column:${t.at + 1}\nvalue of filter criterion for field '${f.name}' must be of type ${expected} and ${quoted ? 'should be enclosed in quotes' : 'should not be enclosed in quotes'}`,
      );
    if ((f.type === 'datetime' || f.type === 'date') && t.kind === 'word') {
      throw unsupported(`the date literal ${t.text}`);
    }
    switch (f.type) {
      case 'datetime': {
        const ms = t.kind === 'datetime' ? parseDateTime(t.text) : undefined;
        if (ms === undefined) throw wrongType('dateTime', false);
        return ms;
      }
      case 'date':
        if (t.kind !== 'date') throw wrongType('date', false);
        return t.text;
      case 'boolean':
        if (!isWord('true', t) && !isWord('false', t)) throw wrongType('boolean', false);
        if (op !== '=' && op !== '!=') {
          throw new SoqlError('INVALID_QUERY_FILTER_OPERATOR', `invalid operator on boolean field: ${op}`);
        }
        return t.text.toLowerCase() === 'true';
      case 'int':
      case 'double':
      case 'currency':
      case 'percent':
        if (t.kind !== 'number') throw wrongType(f.type === 'int' ? 'int' : 'double', false);
        return Number(t.text);
      case 'id':
      case 'reference': {
        if (t.kind !== 'string') throw wrongType('id', true);
        const id = id15Of(unquote(t.text));
        if (!id) throw new SoqlError('INVALID_QUERY_FILTER_OPERATOR', `invalid ID field: ${unquote(t.text)}`);
        return id;
      }
      default:
        if (t.kind !== 'string') throw wrongType('string', true);
        return unquote(t.text);
    }
  }
}

/** Whether a field value satisfies a condition (string comparisons ignore case, as in SOQL). */
export function matches(c: Condition, raw: Value): boolean {
  const norm = (v: Value): Value => {
    if (v === null) return null;
    if (c.field.type === 'id' || c.field.type === 'reference') return String(v).slice(0, 15);
    return typeof v === 'string' && c.field.type !== 'date' ? v.toLowerCase() : v;
  };
  const value = norm(raw);
  if (c.op === 'IN' || c.op === 'NOT IN') {
    const found = (c.value as Value[]).some((v) => norm(v) === value);
    return c.op === 'IN' ? found : !found;
  }
  const target = norm(c.value as Value);
  if (c.op === '=') return value === target;
  if (c.op === '!=') return value !== target;
  if (value === null || target === null) return false;
  switch (c.op) {
    case '<':
      return value < target;
    case '<=':
      return value <= target;
    case '>':
      return value > target;
    default:
      return value >= target;
  }
}
