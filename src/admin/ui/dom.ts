// Element builders. Text only ever goes in through text nodes (textContent),
// never through innerHTML, so data from the API cannot become markup.

export type Child = Node | string | number | null | undefined | false | Child[]
export type AttrValue = string | number | boolean | null | undefined
export type Listener = (event: Event) => unknown
export type Attrs = Record<string, AttrValue | Listener>

/** Properties that must be set on the element, not as attributes, to reflect the live state. */
const PROPERTIES = new Set(['value', 'checked', 'selected', 'indeterminate'])

function append (parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    if (Array.isArray(child)) append(parent, child)
    else if (child instanceof Node) parent.appendChild(child)
    else parent.appendChild(document.createTextNode(String(child)))
  }
}

function setAttrs (el: Element, attrs: Attrs | null | undefined): void {
  if (attrs == null) return
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'style') throw new Error('inline style attributes are blocked by the CSP; use a class')
    if (typeof value === 'function') {
      el.addEventListener(name.replace(/^on/, ''), value)
    } else if (PROPERTIES.has(name)) {
      if (value !== null && value !== undefined) (el as unknown as Record<string, unknown>)[name] = value
    } else if (value === true) {
      el.setAttribute(name, '')
    } else if (value !== false && value !== null && value !== undefined) {
      el.setAttribute(name, String(value))
    }
  }
}

/** `h('button', { class: 'btn', onclick: fn }, 'Simpan')`. */
export function h<K extends keyof HTMLElementTagNameMap> (
  tag: K, attrs?: Attrs | null, ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  setAttrs(el, attrs)
  append(el, children)
  return el
}

const SVG_NS = 'http://www.w3.org/2000/svg'

/** The SVG twin of h(): attributes only (stroke, fill, d, …), text as text nodes. */
export function s<K extends keyof SVGElementTagNameMap> (
  tag: K, attrs?: Attrs | null, ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag)
  setAttrs(el, attrs)
  append(el, children)
  return el
}

/** Replaces every child of el. */
export function mount (el: Element, ...children: Child[]): void {
  el.replaceChildren()
  append(el, children)
}

/** A unique id for label/aria wiring. */
let counter = 0
export function uid (prefix = 'g'): string {
  counter += 1
  return `${prefix}-${counter}`
}
