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
}

/** A path into an item: attribute names and list indexes. */
export type Path = Array<string | number>;

type Operand =
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
      this.position += 1;
      return name;
    }
    if (token?.type === 'name') {
      this.position += 1;
      return token.text;
    }
    return this.fail('expected an attribute name');
  }

  private valueRef(): Operand {
    const token = this.peek() as Token;
    if (!(this.context.values && token.text in this.context.values))
      this.fail(`An expression attribute value used in expression is not defined: ${token.text}`);
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
      return { kind: 'between', operand: left, low, high: this.operand() };
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
      if (token.text === 'if_not_exists') {
        this.position += 2;
        const path = this.path();
        this.take(',');
        const fallback = this.setValue();
        this.take(')');
        return { kind: 'if_not_exists', path, fallback };
      }
      if (token.text === 'list_append') {
        this.position += 2;
        const left = this.setValue();
        this.take(',');
        const right = this.setValue();
        this.take(')');
        return { kind: 'list_append', left, right };
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
  return parser.update();
}

export function parseProjection(source: string, context: ExpressionContext): Path[] {
  const parser = new Parser(source, context);
  const paths = parser.projection();
  parser.expectEnd();
  return paths;
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

/** DynamoDB's order of scalars: numbers numerically, strings and binaries by their UTF-8 bytes. */
export function compareScalars(a: Value, b: Value): number | undefined {
  const type = typeOf(a);
  if (type !== typeOf(b)) return undefined;
  if (type === 'N') return Number(a) - Number(b);
  if (type === 'S') return Buffer.compare(Buffer.from(a as string), Buffer.from(b as string));
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

export function getPath(item: Value, path: Path): Value | undefined {
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
      if (left === undefined || right === undefined) return condition.op === '<>' && left !== right;
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
  if (typeof last === 'number') {
    if (Array.isArray(parent) && last < parent.length) parent.splice(last, 1);
  } else if (parent && typeof parent === 'object' && !Array.isArray(parent)) delete (parent as Item)[last];
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
      if (current !== undefined && !(current instanceof Set))
        throw new ExpressionError('An operand in the update expression has an incorrect data type');
      setPath(item, path, new Set([...(current ?? []), ...addend]));
    } else throw new ExpressionError('Incorrect operand type for operator or function; operator: ADD');
  }
  for (const { path, value } of actions.delete) {
    const removed = resolve(value, before, context);
    const current = getPath(item, path);
    if (!(removed instanceof Set))
      throw new ExpressionError('Incorrect operand type for operator or function; operator: DELETE');
    if (current === undefined) continue;
    if (!(current instanceof Set))
      throw new ExpressionError('An operand in the update expression has an incorrect data type');
    const left = new Set([...current].filter((x) => ![...removed].some((y) => valuesEqual(x, y))));
    if (left.size === 0) removePath(item, path);
    else setPath(item, path, left);
  }
  return item;
}

/** The attributes the projection names, nested paths kept in their place. */
export function project(item: Item, paths: readonly Path[]): Item {
  const projected: Item = {};
  for (const path of paths) {
    const value = getPath(item, path);
    if (value === undefined) continue;
    let target: Item = projected;
    for (let i = 0; i < path.length - 1; i += 1) {
      const step = String(path[i]);
      target[step] ??= {};
      target = target[step] as Item;
    }
    target[String(path[path.length - 1])] = structuredClone(value);
  }
  return projected;
}
