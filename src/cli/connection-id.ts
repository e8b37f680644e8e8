import { TokenkeeperError } from '../errors.ts';
import { isId } from '../ids.ts';

/** A connection id from the command line, checked before anything opens the database. */
export function requireConnectionId(value: string): string {
  if (!isId(value, 'con')) {
    throw new TokenkeeperError('invalid_id', `${JSON.stringify(value)} is not a connection id (they look like con_ followed by 20 letters and digits).`);
  }
  return value;
}
