/** A few DOM helpers: element creation and keyed row updates that keep focus where it was. */

type Child = Node | string | null | undefined | false;
type Attributes = Record<string, string | number | boolean | null | undefined>;

/** Creates an element; attributes set to null/undefined/false are left out, true gives an empty attribute. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  setAttributes(element, attributes);
  append(element, children);
  return element;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag) as SVGElementTagNameMap[K];
  setAttributes(element, attributes);
  append(element, children);
  return element;
}

function setAttributes(element: Element, attributes: Attributes): void {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
}

function append(element: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

/** Replaces the children of `element` only if what they would show differs (keeps focus and selection). */
export function replaceContent(element: Element, ...children: Child[]): void {
  const next = document.createElement('div');
  append(next, children);
  if (next.innerHTML === element.innerHTML) return;
  element.replaceChildren(...next.childNodes);
}

/**
 * Updates the rows of a table body to show `items` in order, reusing the row of each key: a row whose content
 * did not change is left alone, so a link or button in it keeps focus across refreshes.
 */
export function reconcileRows<T>(
  body: HTMLTableSectionElement,
  items: readonly T[],
  keyOf: (item: T) => string,
  cellsOf: (item: T) => HTMLTableCellElement[],
): void {
  const focused = focusWithin(body);
  // Each cell carries its column's name: at phone width a row is drawn as a card of labelled lines.
  const headers = [...((body.parentElement as HTMLTableElement | null)?.tHead?.rows[0]?.cells ?? [])]
    .filter((cell) => !cell.hidden)
    .map((cell) => String(cell.textContent).trim());
  const existing = new Map<string, HTMLTableRowElement>();
  for (const row of [...body.rows]) existing.set(row.dataset.key ?? '', row);
  let previous: HTMLTableRowElement | null = null;
  const kept = new Set<HTMLTableRowElement>();
  for (const item of items) {
    const key = keyOf(item);
    let row = existing.get(key);
    if (row && kept.has(row)) row = undefined;
    if (!row) {
      row = document.createElement('tr');
      row.dataset.key = key;
    }
    kept.add(row);
    const cells = cellsOf(item);
    cells.forEach((cell, index) => {
      const label = headers[index];
      if (label) cell.dataset.label = label;
      const current = row.cells[index];
      if (!current) row.append(cell);
      else if (current.outerHTML !== cell.outerHTML) current.replaceWith(cell);
    });
    while (row.cells.length > cells.length) row.deleteCell(-1);
    const expectedPosition: ChildNode | null = previous ? previous.nextSibling : body.firstChild;
    if (expectedPosition !== row) body.insertBefore(row, expectedPosition);
    previous = row;
  }
  for (const row of [...body.rows]) if (!kept.has(row)) row.remove();
  focused?.restore();
}

/**
 * What has the keyboard focus inside `container` (a link or button of a keyed row), so that it can be given back
 * if an update moved or replaced it: moving a focused node in the DOM drops its focus.
 */
function focusWithin(container: Element): { restore(): void } | undefined {
  const active = document.activeElement;
  if (!(active instanceof HTMLElement) || !container.contains(active)) return undefined;
  const key = active.closest<HTMLElement>('[data-key]')?.dataset.key;
  const href = active.getAttribute('href');
  return {
    restore() {
      if (document.activeElement === active && active.isConnected) return;
      const row = [...container.querySelectorAll<HTMLElement>('[data-key]')].find(
        (r) => r.dataset.key === key,
      );
      const again =
        href === null ? undefined : row?.querySelector<HTMLElement>(`[href="${CSS.escape(href)}"]`);
      again?.focus();
    },
  };
}
