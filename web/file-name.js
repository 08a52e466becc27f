// @ts-check
// Attachment file names have ONE cleaner: pop3-mime's clean_filename, which the reading module
// (wasm) exports as `cleanFilename`. Its rules — the unsafe characters of pop3_proto::text
// (bidi, invisible, control), paths, Windows device names, leading dots, the real extension
// kept visible — are checked against one set of vectors in Rust and, through this module, in
// JavaScript (client-wasm/pop3-proto/tests/unsafe_text_vectors.json, run by
// tests/tests/unsafe_text_js.rs). There is no second rule set here: without the wasm cleaner
// no sender-supplied name is used at all.
//
// Pure: no DOM, no fetch; importable in node.

/** @import { CleanedName } from './types.js' */

/**
 * A module with the wasm cleaner (the reading module, or pop3.js); its answer is checked.
 * @typedef {{ cleanFilename?: (name: string) => Partial<CleanedName> | null | undefined }} FilenameCleaner
 */

/** The name used when no cleaner is available or it fails. */
export const FALLBACK_NAME = 'attachment';

/** @type {FilenameCleaner | null} */
let cleaner = null; // the reading module, once someone has loaded it

/**
 * Makes `mime` (the reading module, with `cleanFilename`) the default cleaner.
 * @param {FilenameCleaner | null | undefined} mime
 */
export function useFilenameCleaner(mime) {
  if (typeof mime?.cleanFilename === 'function') cleaner = mime;
}

/**
 * `{ name, extension }` safe to show and to offer as a download name, from the wasm cleaner of
 * `mime` (default: the one given to useFilenameCleaner). Without a cleaner, or if it throws,
 * `{ name: 'attachment', extension: '' }`.
 * @param {string | null | undefined} name the sender's
 * @param {FilenameCleaner | null} [mime]
 * @returns {CleanedName}
 */
export function cleanFilename(name, mime = cleaner) {
  if (typeof mime?.cleanFilename === 'function') {
    try {
      const c = mime.cleanFilename(String(name ?? ''));
      if (typeof c?.name === 'string' && c.name !== '') return { name: c.name, extension: String(c.extension ?? '') };
    } catch {
      /* below: never a name nobody cleaned */
    }
  }
  return { name: FALLBACK_NAME, extension: '' };
}
