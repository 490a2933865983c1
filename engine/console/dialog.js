// Modal forms on <dialog>: Escape and Cancel close them, focus returns where it was, and a failed
// submit keeps the dialog open with the engine's message.

import { h, icon } from './dom.js';

/**
 * Open a modal form. `fields` are nodes placed in the form; `onSubmit()` runs on submit and
 * may throw (its message is shown in the dialog); the dialog closes when it resolves.
 * `dismissLabel` names the button that closes it unchanged (not "Cancel" beside "Cancel runs").
 */
export function formDialog({ title, description = null, fields, submitLabel, dismissLabel = 'Cancel', danger = false, onSubmit }) {
  const error = h('p', { class: 'error-box', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: danger ? 'button button-danger-solid' : 'button button-primary' }, submitLabel);
  const cancel = h('button', { type: 'button', class: 'button', text: dismissLabel });
  const close = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close' }, icon('close'));
  const heading = h('h2', { class: 'dialog-title', id: `dialog-${Date.now()}` }, title);
  const form = h(
    'form',
    { class: 'dialog-form', method: 'dialog' },
    h('div', { class: 'dialog-head' }, heading, close),
    description && h('p', { class: 'dialog-description' }, description),
    h('div', { class: 'dialog-body' }, fields),
    error,
    h('div', { class: 'dialog-actions' }, cancel, submit),
  );
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': heading.id }, form);
  const opener = document.activeElement;
  const done = () => dialog.close();
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener instanceof HTMLElement) opener.focus();
  });
  cancel.addEventListener('click', done);
  close.addEventListener('click', done);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.hidden = true;
    try {
      await onSubmit();
      done();
    } catch (exc) {
      error.textContent = exc.message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** A labelled text field; `input` is the control. */
export function textField(label, props = {}) {
  const input = h(props.multiline ? 'textarea' : 'input', { ...props, multiline: null });
  return { element: h('label', { class: 'field' }, h('span', { class: 'field-label', text: label }), input), input };
}

/**
 * A JSON editor: a monospace textarea whose `value()` returns the parsed JSON or throws an error
 * saying where the mistake is (the browser's parser names the position).
 */
export function jsonEditor(label, initial, { rows = 14 } = {}) {
  const input = h('textarea', { class: 'json-input', rows, spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off' });
  input.value = typeof initial === 'string' ? initial : JSON.stringify(initial, null, 2);
  const element = h('label', { class: 'field' }, h('span', { class: 'field-label', text: label }), input);
  return {
    element,
    input,
    value() {
      try {
        return JSON.parse(input.value);
      } catch (exc) {
        throw new Error(`${label} is not valid JSON: ${exc.message}`);
      }
    },
  };
}
