import { InitialSchema1764460800000 } from './1764460800000-initial-schema';

/** Every migration, in order. Add new ones at the end; never edit one that has shipped. */
export const MIGRATIONS = [InitialSchema1764460800000];
