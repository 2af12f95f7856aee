// Small DOM helpers: every screen builds real elements (no innerHTML with data).

/** h('button', {type: 'button', onclick}, 'Claim') */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = value;
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Announces a short message to screen readers and shows it in the status bar. */
export function say(text, kind = 'info') {
  const status = document.getElementById('status');
  status.dataset.kind = kind;
  status.textContent = text;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { status.textContent = ''; }, kind === 'error' ? 8000 : 4000);
}

let ids = 0;
/** A fresh element id (labels need them). */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}
