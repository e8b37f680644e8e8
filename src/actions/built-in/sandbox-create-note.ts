import Type from 'typebox';
import { defineAction } from '../action-definition.ts';

/**
 * `sandbox.notes.create`: `POST /notes` under the sandbox's API base URL (`<issuer>/api`, so the
 * demo API's `/api/notes`) with `{title, text}`; it answers 201 with `{id, title, text,
 * created_at}`. The writable resource exists so that actions can be tried and tested end to end
 * without a real provider.
 */
export const sandboxCreateNote = defineAction({
  name: 'sandbox.notes.create',
  description: "Creates a note in the sandbox provider's demo API (for trying actions out).",
  providers: ['sandbox'],
  input: Type.Object(
    {
      title: Type.String({ minLength: 1, maxLength: 200, description: 'The note title.' }),
      text: Type.String({ maxLength: 10_000, description: 'The note text.' }),
    },
    { additionalProperties: false },
  ),
  build(input) {
    return { method: 'POST', path: '/notes', body: { title: input.title, text: input.text } };
  },
  read(response) {
    const note = (response.body ?? {}) as Record<string, unknown>;
    return { id: note.id ?? null, title: note.title ?? null, text: note.text ?? null, created_at: note.created_at ?? null };
  },
});
