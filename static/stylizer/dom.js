// The one DOM helper the widget and the attention explorer build their markup with.

/** h('div', {class: 'x', text: 'hi', hidden: true}, ...children): attributes false/null are left out, true is ''. */
export const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c != null) el.append(c);
  return el;
};
