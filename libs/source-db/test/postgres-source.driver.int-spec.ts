import { describeSourceDriver } from './source-driver.test-kit';

jest.setTimeout(60_000);

/* The shared driver scenarios (source-driver.test-kit.ts) against a real PostgreSQL database. */
describeSourceDriver('postgres');
