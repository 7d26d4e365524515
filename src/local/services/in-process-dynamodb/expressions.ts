/**
 * DynamoDB's expression languages (condition, key condition, filter, update, projection) over items in their
 * document form (what lib-dynamodb unmarshalls: strings, numbers, booleans, null, Uint8Array, Set, arrays, objects).
 * Only what DynamoDB documents; anything else is a ValidationError, as DynamoDB answers it.
 */

export type Value = unknown;
export type Item = Record<string, Value>;

export class ExpressionError extends Error {
  override name = 'ValidationException';
}

export interface ExpressionContext {
  names?: Record<string, string> | undefined;
  values?: Record<string, Value> | undefined;
  /** The names (#n) and values (:v) the parsed expressions used: DynamoDB rejects any given and left unused. */
  used?: { names: Set<string>; values: Set<string> };
}

/**
 * DynamoDB's reserved words ("Reserved words in DynamoDB", case-insensitive): an attribute name written bare in an
 * expression may not be one of them (it takes an expression attribute name, #n, instead).
 */
const RESERVED_WORDS = new Set(
  `ABORT ABSOLUTE ACTION ADD AFTER AGENT AGGREGATE ALL ALLOCATE ALTER ANALYZE AND ANY ARCHIVE ARE ARRAY AS
  ASC ASCII ASENSITIVE ASSERTION ASYMMETRIC AT ATOMIC ATTACH ATTRIBUTE AUTH AUTHORIZATION AUTHORIZE AUTO
  AVG BACK BACKUP BASE BATCH BEFORE BEGIN BETWEEN BIGINT BINARY BIT BLOB BLOCK BOOLEAN BOTH BREADTH BUCKET
  BULK BY BYTE CALL CALLED CALLING CAPACITY CASCADE CASCADED CASE CAST CATALOG CHAR CHARACTER CHECK CLASS
  CLOB CLOSE CLUSTER CLUSTERED CLUSTERING CLUSTERS COALESCE COLLATE COLLATION COLLECTION COLUMN COLUMNS
  COMBINE COMMENT COMMIT COMPACT COMPILE COMPRESS CONDITION CONFLICT CONNECT CONNECTION CONSISTENCY
  CONSISTENT CONSTRAINT CONSTRAINTS CONSTRUCTOR CONSUMED CONTINUE COPY CORRESPONDING COUNT COUNTER CREATE
  CROSS CUBE CURRENT CURSOR CYCLE DATA DATABASE DATE DATETIME DAY DEALLOCATE DEC DECIMAL DECLARE DEFAULT
  DEFERRABLE DEFERRED DEFINE DEFINED DEFINITION DELETE DELIMITED DEPTH DEREF DESC DESCRIBE DESCRIPTOR
  DETACH DETERMINISTIC DIAGNOSTICS DIRECTORIES DISABLE DISCONNECT DISTINCT DISTRIBUTE DO DOMAIN DOUBLE
  DROP DUMP DURATION DYNAMIC EACH ELEMENT ELSE ELSEIF EMPTY ENABLE END EQUAL EQUALS ERROR ESCAPE ESCAPED
  EVAL EVALUATE EXCEEDED EXCEPT EXCEPTION EXCEPTIONS EXCLUSIVE EXEC EXECUTE EXISTS EXIT EXPLAIN EXPLODE
  EXPORT EXPRESSION EXTENDED EXTERNAL EXTRACT FAIL FALSE FAMILY FETCH FIELDS FILE FILTER FILTERING FINAL
  FINISH FIRST FIXED FLATTERN FLOAT FOR FORCE FOREIGN FORMAT FORWARD FOUND FREE FROM FULL FUNCTION
  FUNCTIONS GENERAL GENERATE GET GLOB GLOBAL GO GOTO GRANT GREATER GROUP GROUPING HANDLER HASH HAVE HAVING
  HEAP HIDDEN HOLD HOUR IDENTIFIED IDENTITY IF IGNORE IMMEDIATE IMPORT IN INCLUDING INCLUSIVE INCREMENT
  INCREMENTAL INDEX INDEXED INDEXES INDICATOR INFINITE INITIALLY INLINE INNER INNTER INOUT INPUT
  INSENSITIVE INSERT INSTEAD INT INTEGER INTERSECT INTERVAL INTO INVALIDATE IS ISOLATION ITEM ITEMS
  ITERATE JOIN KEY KEYS LAG LANGUAGE LARGE LAST LATERAL LEAD LEADING LEAVE LEFT LENGTH LESS LEVEL LIKE
  LIMIT LIMITED LINES LIST LOAD LOCAL LOCALTIME LOCALTIMESTAMP LOCATION LOCATOR LOCK LOCKS LOG LOGED LONG
  LOOP LOWER MAP MATCH MATERIALIZED MAX MAXLEN MEMBER MERGE METHOD METRICS MIN MINUS MINUTE MISSING MOD
  MODE MODIFIES MODIFY MODULE MONTH MULTI MULTISET NAME NAMES NATIONAL NATURAL NCHAR NCLOB NEW NEXT NO
  NONE NOT NULL NULLIF NUMBER NUMERIC OBJECT OF OFFLINE OFFSET OLD ON ONLINE ONLY OPAQUE OPEN OPERATOR
  OPTION OR ORDER ORDINALITY OTHER OTHERS OUT OUTER OUTPUT OVER OVERLAPS OVERRIDE OWNER PAD PARALLEL
  PARAMETER PARAMETERS PARTIAL PARTITION PARTITIONED PARTITIONS PATH PERCENT PERCENTILE PERMISSION
  PERMISSIONS PIPE PIPELINED PLAN POOL POSITION PRECISION PREPARE PRESERVE PRIMARY PRIOR PRIVATE
  PRIVILEGES PROCEDURE PROCESSED PROJECT PROJECTION PROPERTY PROVISIONING PUBLIC PUT QUERY QUIT QUORUM
  RAISE RANDOM RANGE RANK RAW READ READS REAL REBUILD RECORD RECURSIVE REDUCE REF REFERENCE REFERENCES
  REFERENCING REGEXP REGION REINDEX RELATIVE RELEASE REMAINDER REMOVE RENAME REPEAT REPLACE REQUEST RESET
  RESIGNAL RESOURCE RESPONSE RESTORE RESTRICT RESULT RETURN RETURNING RETURNS REVERSE REVOKE RIGHT ROLE
  ROLES ROLLBACK ROLLUP ROUTINE ROW ROWS RULE RULES SAMPLE SATISFIES SAVE SAVEPOINT SCAN SCHEMA SCOPE
  SCROLL SEARCH SECOND SECTION SEGMENT SEGMENTS SELECT SELF SEMI SENSITIVE SEPARATE SEQUENCE SERIALIZABLE
  SESSION SET SETS SHARD SHARE SHARED SHORT SHOW SIGNAL SIMILAR SKEWED SMALLINT SNAPSHOT SOME SOURCE SPACE
  SPACES SPARSE SPECIFIC SPECIFICTYPE SPLIT SQL SQLCODE SQLERROR SQLEXCEPTION SQLSTATE SQLWARNING START
  STATE STATIC STATUS STORAGE STORE STORED STREAM STRING STRUCT STYLE SUB SUBMULTISET SUBPARTITION
  SUBSTRING SUBTYPE SUM SUPER SYMMETRIC SYNONYM SYSTEM TABLE TABLESAMPLE TEMP TEMPORARY TERMINATED TEXT
  THAN THEN THROUGHPUT TIME TIMESTAMP TIMEZONE TINYINT TO TOKEN TOTAL TOUCH TRAILING TRANSACTION TRANSFORM
  TRANSLATE TRANSLATION TREAT TRIGGER TRIM TRUE TRUNCATE TTL TUPLE TYPE UNDER UNDO UNION UNIQUE UNIT
  UNKNOWN UNLOGGED UNNEST UNPROCESSED UNSIGNED UNTIL UPDATE UPPER URL USAGE USE USER USERS USING UUID
  VACUUM VALUE VALUED VALUES VARCHAR VARIABLE VARIANCE VARINT VARYING VIEW VIEWS VIRTUAL VOID WAIT WHEN
  WHENEVER WHERE WHILE WINDOW WITH WITHIN WITHOUT WORK WRAPPED WRITE YEAR ZONE`
    .toLowerCase()
    .split(/\s+/),
);

/** A path into an item: attribute names and list indexes. */
export type Path = Array<string | number>;

export type Operand =
  | { kind: 'path'; path: Path }
  | { kind: 'value'; name: string }
  | { kind: 'size'; path: Path }
  | { kind: 'if_not_exists'; path: Path; fallback: Operand }
  | { kind: 'list_append'; left: Operand; right: Operand }
  | { kind: 'arithmetic'; op: '+' | '-'; left: Operand; right: Operand };

export type Condition =
  | { kind: 'and' | 'or'; left: Condition; right: Condition }
  | { kind: 'not'; inner: Condition }
  | { kind: 'compare'; op: '=' | '<>' | '<' | '<=' | '>' | '>='; left: Operand; right: Operand }
  | { kind: 'between'; operand: Operand; low: Operand; high: Operand }
  | { kind: 'in'; operand: Operand; list: Operand[] }
  | { kind: 'function'; name: string; args: Operand[] };

export interface UpdateActions {
  set: Array<{ path: Path; value: Operand }>;
  remove: Path[];
  add: Array<{ path: Path; value: Operand }>;
  delete: Array<{ path: Path; value: Operand }>;
}

// ---- tokens

type Token = { type: 'name' | 'alias' | 'value' | 'number' | 'punct'; text: string };

const PUNCT = ['<>', '<=', '>=', '=', '<', '>', '(', ')', '[', ']', ',', '.', '+', '-'];

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    const punct = PUNCT.find((p) => source.startsWith(p, i));
    if (punct) {
      tokens.push({ type: 'punct', text: punct });
      i += punct.length;
      continue;
    }
    const match = /^([#:]?)([A-Za-z0-9_]+)/.exec(source.slice(i));
    if (!match) throw new ExpressionError(`Invalid expression: unexpected "${c}" in "${source}"`);
    const [text, sigil] = match as unknown as [string, string];
    tokens.push({
      type: sigil === '#' ? 'alias' : sigil === ':' ? 'value' : /^[0-9]+$/.test(text) ? 'number' : 'name',
      text,
    });
    i += text.length;
  }
  return tokens;
}

class Parser {
  private position = 0;
  private readonly tokens: Token[];

  constructor(
    private readonly source: string,
    private readonly context: ExpressionContext,
  ) {
    this.tokens = tokenize(source);
  }

  get done(): boolean {
    return this.position >= this.tokens.length;
  }

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.position + offset];
  }

  private fail(what: string): never {
    throw new ExpressionError(`Invalid expression "${this.source}": ${what}`);
  }

  private take(text: string): void {
    const token = this.peek();
    if (!token || token.text.toUpperCase() !== text) this.fail(`expected "${text}"`);
    this.position += 1;
  }

  private takeIf(text: string): boolean {
    const token = this.peek();
    if (token && token.type !== 'value' && token.type !== 'alias' && token.text.toUpperCase() === text) {
      this.position += 1;
      return true;
    }
    return false;
  }

  expectEnd(): void {
    if (!this.done) this.fail(`unexpected "${this.peek()?.text}"`);
  }

  path(): Path {
    const path: Path = [this.attributeName()];
    for (;;) {
      if (this.peek()?.text === '.' && this.peek()?.type === 'punct') {
        this.position += 1;
        path.push(this.attributeName());
      } else if (this.peek()?.text === '[') {
        this.position += 1;
        const index = this.peek();
        if (index?.type !== 'number') this.fail('a list index must be a number');
        this.position += 1;
        this.take(']');
        path.push(Number(index.text));
      } else return path;
    }
  }

  private attributeName(): string {
    const token = this.peek();
    if (token?.type === 'alias') {
      const name = this.context.names?.[token.text];
      if (name === undefined)
        this.fail(`An expression attribute name used in the document path is not defined: ${token.text}`);
      this.context.used?.names.add(token.text);
      this.position += 1;
      return name;
    }
    if (token?.type === 'name') {
      if (RESERVED_WORDS.has(token.text.toLowerCase()))
        this.fail(`Attribute name is a reserved keyword; reserved keyword: ${token.text}`);
      this.position += 1;
      return token.text;
    }
    return this.fail('expected an attribute name');
  }

  private valueRef(): Operand {
    const token = this.peek() as Token;
    if (!(this.context.values && token.text in this.context.values))
      this.fail(`An expression attribute value used in expression is not defined: ${token.text}`);
    this.context.used?.values.add(token.text);
    this.position += 1;
    return { kind: 'value', name: token.text };
  }

  /** An operand of a condition: a path, a value, or size(path). */
  operand(): Operand {
    const token = this.peek();
    if (!token) return this.fail('expected an operand');
    if (token.type === 'value') return this.valueRef();
    if (token.type === 'name' && token.text === 'size' && this.peek(1)?.text === '(') {
      this.position += 2;
      const path = this.path();
      this.take(')');
      return { kind: 'size', path };
    }
    return { kind: 'path', path: this.path() };
  }

  condition(): Condition {
    let left = this.conjunction();
    while (this.takeIf('OR')) left = { kind: 'or', left, right: this.conjunction() };
    return left;
  }

  private conjunction(): Condition {
    let left = this.negation();
    while (this.takeIf('AND')) left = { kind: 'and', left, right: this.negation() };
    return left;
  }

  private negation(): Condition {
    if (this.takeIf('NOT')) return { kind: 'not', inner: this.negation() };
    return this.primary();
  }

  private primary(): Condition {
    if (this.peek()?.text === '(') {
      this.position += 1;
      const inner = this.condition();
      this.take(')');
      return inner;
    }
    const token = this.peek();
    const functions = [
      'attribute_exists',
      'attribute_not_exists',
      'attribute_type',
      'begins_with',
      'contains',
    ];
    if (token?.type === 'name' && functions.includes(token.text) && this.peek(1)?.text === '(') {
      this.position += 2;
      const args: Operand[] = [{ kind: 'path', path: this.path() }];
      while (this.takeIf(',')) args.push(this.operand());
      this.take(')');
      return { kind: 'function', name: token.text, args };
    }
    const left = this.operand();
    if (this.takeIf('BETWEEN')) {
      const low = this.operand();
      this.take('AND');
      const high = this.operand();
      // Bounds given as values are checked as the expression is read, as DynamoDB checks them.
      if (low.kind === 'value' && high.kind === 'value') {
        const [from, to] = [this.context.values?.[low.name], this.context.values?.[high.name]];
        if (typeOf(from) !== typeOf(to))
          this.fail('The BETWEEN operator requires same data type for lower and upper bounds');
        if ((compareScalars(from, to) ?? 0) > 0)
          this.fail('The BETWEEN operator requires upper bound to be greater than or equal to lower bound');
      }
      return { kind: 'between', operand: left, low, high };
    }
    if (this.takeIf('IN')) {
      this.take('(');
      const list = [this.operand()];
      while (this.takeIf(',')) list.push(this.operand());
      this.take(')');
      return { kind: 'in', operand: left, list };
    }
    const op = this.peek();
    if (op?.type !== 'punct' || !['=', '<>', '<', '<=', '>', '>='].includes(op.text))
      return this.fail('expected a comparison');
    this.position += 1;
    return {
      kind: 'compare',
      op: op.text as '=' | '<>' | '<' | '<=' | '>' | '>=',
      left,
      right: this.operand(),
    };
  }

  /** The right-hand side of a SET action. */
  setValue(): Operand {
    const left = this.setOperand();
    const op = this.peek();
    if (op?.type === 'punct' && (op.text === '+' || op.text === '-')) {
      this.position += 1;
      return { kind: 'arithmetic', op: op.text, left, right: this.setOperand() };
    }
    return left;
  }

  private setOperand(): Operand {
    const token = this.peek();
    if (token?.type === 'name' && this.peek(1)?.text === '(') {
      if (token.text === 'if_not_exists' || token.text === 'list_append') {
        this.position += 2;
        const first = token.text === 'if_not_exists' ? this.path() : this.setValue();
        this.take(',');
        const second = this.setValue();
        this.take(')');
        return Array.isArray(first)
          ? { kind: 'if_not_exists', path: first, fallback: second }
          : { kind: 'list_append', left: first, right: second };
      }
      this.fail(`unknown function ${token.text}`);
    }
    if (token?.type === 'value') return this.valueRef();
    return { kind: 'path', path: this.path() };
  }

  update(): UpdateActions {
    const actions: UpdateActions = { set: [], remove: [], add: [], delete: [] };
    const seen = new Set<string>();
    while (!this.done) {
      const clause = this.peek()?.text.toUpperCase() ?? '';
      if (!['SET', 'REMOVE', 'ADD', 'DELETE'].includes(clause) || seen.has(clause))
        this.fail(`unexpected "${this.peek()?.text}"`);
      seen.add(clause);
      this.position += 1;
      do {
        const path = this.path();
        if (clause === 'SET') {
          this.take('=');
          actions.set.push({ path, value: this.setValue() });
        } else if (clause === 'REMOVE') actions.remove.push(path);
        else {
          const token = this.peek();
          if (token?.type !== 'value') this.fail(`${clause} takes an expression attribute value`);
          (clause === 'ADD' ? actions.add : actions.delete).push({ path, value: this.valueRef() });
        }
      } while (this.takeIf(','));
    }
    if (seen.size === 0) this.fail('an update expression needs an action');
    return actions;
  }

  projection(): Path[] {
    const paths = [this.path()];
    while (this.takeIf(',')) paths.push(this.path());
    return paths;
  }
}

export function parseCondition(source: string, context: ExpressionContext): Condition {
  const parser = new Parser(source, context);
  const condition = parser.condition();
  parser.expectEnd();
  return condition;
}

export function parseUpdate(source: string, context: ExpressionContext): UpdateActions {
  const parser = new Parser(source, context);
  const actions = parser.update();
  assertNoOverlap(updatedPaths(actions));
  return actions;
}

export function parseProjection(source: string, context: ExpressionContext): Path[] {
  const parser = new Parser(source, context);
  const paths = parser.projection();
  parser.expectEnd();
  assertNoOverlap(paths);
  return paths;
}

/** Every path an update's actions name. */
export function updatedPaths(actions: UpdateActions): Path[] {
  return [...actions.set, ...actions.add, ...actions.delete]
    .map((action) => action.path)
    .concat(actions.remove);
}

/** DynamoDB rejects two paths of one expression where one is the other or lies inside it. */
function assertNoOverlap(paths: readonly Path[]): void {
  for (let i = 0; i < paths.length; i += 1)
    for (let j = i + 1; j < paths.length; j += 1) {
      const [a, b] = [paths[i] as Path, paths[j] as Path];
      const shorter = a.length <= b.length ? a : b;
      if (shorter.every((step, k) => step === a[k] && step === b[k]))
        throw new ExpressionError(
          `Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [${a.join(', ')}], path two: [${b.join(', ')}]`,
        );
    }
}

// ---- values

type TypeName = 'S' | 'N' | 'B' | 'BOOL' | 'NULL' | 'SS' | 'NS' | 'BS' | 'L' | 'M';

export function typeOf(value: Value): TypeName {
  if (typeof value === 'string') return 'S';
  if (typeof value === 'number' || typeof value === 'bigint') return 'N';
  if (typeof value === 'boolean') return 'BOOL';
  if (value === null) return 'NULL';
  if (value instanceof Uint8Array) return 'B';
  if (value instanceof Set) {
    const first = value.values().next().value;
    return typeof first === 'number' ? 'NS' : first instanceof Uint8Array ? 'BS' : 'SS';
  }
  if (Array.isArray(value)) return 'L';
  return 'M';
}

/**
 * Two strings in the order of their UTF-8 bytes, which is the order of their code points. JavaScript compares UTF-16
 * code units, which agrees except where a surrogate (a code point above U+FFFF) meets a code unit from U+E000 up:
 * only there are the bytes compared.
 */
function compareUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0xd800 && y < 0xd800) return x - y;
    // From the whole code point: a difference in a low surrogate shares its high surrogate with the other string.
    const lowSurrogate = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff;
    const from = i > 0 && (lowSurrogate(x) || lowSurrogate(y)) ? i - 1 : i;
    return Buffer.compare(Buffer.from(a.slice(from)), Buffer.from(b.slice(from)));
  }
  return a.length - b.length;
}

/** DynamoDB's order of scalars: numbers numerically, strings and binaries by their UTF-8 bytes. */
export function compareScalars(a: Value, b: Value): number | undefined {
  const type = typeOf(a);
  if (type !== typeOf(b)) return undefined;
  if (type === 'N') return Number(a) - Number(b);
  if (type === 'S') return compareUtf8(a as string, b as string);
  if (type === 'B') return Buffer.compare(a as Uint8Array, b as Uint8Array);
  return undefined;
}

export function valuesEqual(a: Value, b: Value): boolean {
  const type = typeOf(a);
  if (type !== typeOf(b)) return false;
  if (type === 'N' || type === 'S' || type === 'B') return compareScalars(a, b) === 0;
  if (type === 'BOOL' || type === 'NULL') return a === b;
  if (a instanceof Set && b instanceof Set) {
    if (a.size !== b.size) return false;
    for (const x of a) if (![...b].some((y) => valuesEqual(x, y))) return false;
    return true;
  }
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => valuesEqual(x, b[i]));
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return (
    ka.length === kb.length &&
    ka.every((k) => k in (b as object) && valuesEqual((a as Item)[k], (b as Item)[k]))
  );
}

function getPath(item: Value, path: Path): Value | undefined {
  let current: Value | undefined = item;
  for (const step of path) {
    if (current === undefined || current === null) return undefined;
    if (typeof step === 'number') current = Array.isArray(current) ? current[step] : undefined;
    else
      current =
        typeof current === 'object' &&
        !Array.isArray(current) &&
        !(current instanceof Set) &&
        !(current instanceof Uint8Array)
          ? (current as Item)[step]
          : undefined;
  }
  return current;
}

function resolve(operand: Operand, item: Item, context: ExpressionContext): Value | undefined {
  switch (operand.kind) {
    case 'path':
      return getPath(item, operand.path);
    case 'value':
      return context.values?.[operand.name];
    case 'size': {
      const value = getPath(item, operand.path);
      if (value === undefined) return undefined;
      if (typeof value === 'string') return Buffer.byteLength(value);
      if (value instanceof Uint8Array) return value.length;
      if (value instanceof Set) return value.size;
      if (Array.isArray(value)) return value.length;
      if (typeof value === 'object' && value !== null) return Object.keys(value).length;
      return undefined;
    }
    case 'if_not_exists':
      return getPath(item, operand.path) ?? resolve(operand.fallback, item, context);
    case 'list_append': {
      const left = resolve(operand.left, item, context);
      const right = resolve(operand.right, item, context);
      if (!Array.isArray(left) || !Array.isArray(right))
        throw new ExpressionError(
          'Invalid UpdateExpression: Incorrect operand type for operator or function',
        );
      return [...left, ...right];
    }
    case 'arithmetic': {
      const left = resolve(operand.left, item, context);
      const right = resolve(operand.right, item, context);
      if (typeof left !== 'number' || typeof right !== 'number')
        throw new ExpressionError(
          'An operand in the update expression has an incorrect data type (or the attribute does not exist)',
        );
      return operand.op === '+' ? left + right : left - right;
    }
  }
}

export function evaluate(condition: Condition, item: Item, context: ExpressionContext): boolean {
  switch (condition.kind) {
    case 'and':
      return evaluate(condition.left, item, context) && evaluate(condition.right, item, context);
    case 'or':
      return evaluate(condition.left, item, context) || evaluate(condition.right, item, context);
    case 'not':
      return !evaluate(condition.inner, item, context);
    case 'compare': {
      const left = resolve(condition.left, item, context);
      const right = resolve(condition.right, item, context);
      // A missing operand equals nothing and orders against nothing: only <> holds (two missing ones included).
      if (left === undefined || right === undefined) return condition.op === '<>';
      if (condition.op === '=') return valuesEqual(left, right);
      if (condition.op === '<>') return !valuesEqual(left, right);
      const order = compareScalars(left, right);
      if (order === undefined) return false;
      return condition.op === '<'
        ? order < 0
        : condition.op === '<='
          ? order <= 0
          : condition.op === '>'
            ? order > 0
            : order >= 0;
    }
    case 'between': {
      const value = resolve(condition.operand, item, context);
      const low = compareScalars(value, resolve(condition.low, item, context));
      const high = compareScalars(value, resolve(condition.high, item, context));
      return low !== undefined && high !== undefined && low >= 0 && high <= 0;
    }
    case 'in': {
      const value = resolve(condition.operand, item, context);
      return (
        value !== undefined &&
        condition.list.some((candidate) => valuesEqual(value, resolve(candidate, item, context)))
      );
    }
    case 'function': {
      const [first, second] = condition.args;
      const target = first ? resolve(first, item, context) : undefined;
      const argument = second ? resolve(second, item, context) : undefined;
      switch (condition.name) {
        case 'attribute_exists':
          return target !== undefined;
        case 'attribute_not_exists':
          return target === undefined;
        case 'attribute_type':
          return target !== undefined && typeOf(target) === argument;
        case 'begins_with':
          if (typeof target === 'string' && typeof argument === 'string') return target.startsWith(argument);
          if (target instanceof Uint8Array && argument instanceof Uint8Array)
            return Buffer.from(target).subarray(0, argument.length).equals(argument);
          return false;
        default: {
          // contains
          if (typeof target === 'string' && typeof argument === 'string') return target.includes(argument);
          if (target instanceof Set) return [...target].some((x) => valuesEqual(x, argument));
          if (Array.isArray(target)) return target.some((x) => valuesEqual(x, argument));
          return false;
        }
      }
    }
  }
}

// ---- updates

function setPath(item: Item, path: Path, value: Value): void {
  let parent: Value = item;
  for (let i = 0; i < path.length - 1; i += 1) {
    parent = getPath(parent, [path[i] as string | number]);
    if (parent === undefined || typeof parent !== 'object' || parent === null)
      throw new ExpressionError('The document path provided in the update expression is invalid for update');
  }
  const last = path[path.length - 1] as string | number;
  if (typeof last === 'number') {
    if (!Array.isArray(parent))
      throw new ExpressionError('The document path provided in the update expression is invalid for update');
    if (last >= parent.length) parent.push(value);
    else parent[last] = value;
  } else {
    if (Array.isArray(parent) || parent instanceof Set || parent instanceof Uint8Array)
      throw new ExpressionError('The document path provided in the update expression is invalid for update');
    (parent as Item)[last] = value;
  }
}

function removePath(item: Item, path: Path): void {
  const parent = path.length === 1 ? item : getPath(item, path.slice(0, -1));
  const last = path[path.length - 1] as string | number;
  if (typeof last === 'number' && Array.isArray(parent)) {
    if (last < parent.length) parent.splice(last, 1);
  } else if (typeof last === 'string' && isMap(parent)) delete parent[last];
  // Removing from a map or list the item does not have is an invalid path to DynamoDB, not a no-op.
  else throw new ExpressionError('The document path provided in the update expression is invalid for update');
}

function isMap(value: Value | undefined): value is Item {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Set) &&
    !(value instanceof Uint8Array)
  );
}

/** Applies the actions to a copy of `item` (the values of the right-hand sides are read from the item before). */
export function applyUpdate(before: Item, actions: UpdateActions, context: ExpressionContext): Item {
  const item = structuredClone(before);
  const sets = actions.set.map(({ path, value }) => ({
    path,
    value: structuredClone(resolve(value, before, context)),
  }));
  for (const { path, value } of sets) {
    if (value === undefined)
      throw new ExpressionError(
        'The provided expression refers to an attribute that does not exist in the item',
      );
    setPath(item, path, value);
  }
  for (const path of actions.remove) removePath(item, path);
  for (const { path, value } of actions.add) {
    const addend = resolve(value, before, context);
    const current = getPath(item, path);
    if (typeof addend === 'number') {
      if (current !== undefined && typeof current !== 'number')
        throw new ExpressionError('An operand in the update expression has an incorrect data type');
      setPath(item, path, (current ?? 0) + addend);
    } else if (addend instanceof Set) {
      if (current !== undefined && !sameSetType(current, addend))
        throw new ExpressionError('An operand in the update expression has an incorrect data type');
      const present = [...((current as Set<Value> | undefined) ?? [])];
      // Binaries are equal by their bytes, not by identity.
      const added = [...addend].filter((x) => !present.some((y) => valuesEqual(x, y)));
      setPath(item, path, new Set([...present, ...added]));
    } else throw new ExpressionError('Incorrect operand type for operator or function; operator: ADD');
  }
  for (const { path, value } of actions.delete) {
    const removed = resolve(value, before, context);
    const current = getPath(item, path);
    if (!(removed instanceof Set))
      throw new ExpressionError('Incorrect operand type for operator or function; operator: DELETE');
    if (current === undefined) continue;
    if (!sameSetType(current, removed))
      throw new ExpressionError('An operand in the update expression has an incorrect data type');
    const left = new Set([...current].filter((x) => ![...removed].some((y) => valuesEqual(x, y))));
    if (left.size === 0) removePath(item, path);
    else setPath(item, path, left);
  }
  return item;
}

/** A set of the other set's type (a string set does not take numbers); a stored set is never empty. */
function sameSetType(current: Value, other: Set<Value>): current is Set<Value> {
  return current instanceof Set && (other.size === 0 || typeOf(current) === typeOf(other));
}

/**
 * The attributes the projection names, nested paths kept in their place; the elements a path takes from a list
 * form a list of their own, in the list's order (as DynamoDB returns `tags[2], tags[0]`: [tags[0], tags[2]]).
 */
export function project(item: Item, paths: readonly Path[]): Item {
  // Lists are gathered as maps from index to element, and made lists at the end.
  const projected = new Map<string | number, unknown>();
  for (const path of paths) {
    const value = getPath(item, path);
    if (value === undefined) continue;
    let target = projected;
    for (let i = 0; i < path.length - 1; i += 1) {
      const step = path[i] as string | number;
      if (!target.has(step)) target.set(step, new Map());
      target = target.get(step) as Map<string | number, unknown>;
    }
    target.set(path[path.length - 1] as string | number, structuredClone(value));
  }
  return gathered(projected) as Item;
}

function gathered(value: unknown): unknown {
  if (!(value instanceof Map)) return value;
  const entries = [...value.entries()];
  if (typeof entries[0]?.[0] === 'number')
    return entries.sort(([a], [b]) => (a as number) - (b as number)).map(([, element]) => gathered(element));
  return Object.fromEntries(entries.map(([name, element]) => [name, gathered(element)]));
}
