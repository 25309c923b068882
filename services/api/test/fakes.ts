import { UnitOfWork } from '@model-persistence/database';
import { OutgoingEvent } from '@model-persistence/messaging';
import { ChangeNotifier } from '../src/common/change-notifier';

/** A ChangeNotifier over a publisher that records what would have been sent (or fails). */
export function recordingNotifier(fail?: Error) {
  const sent: OutgoingEvent[][] = [];
  const publisher = {
    publishAll: async (events: OutgoingEvent[]) => {
      if (fail) throw fail;
      sent.push(events);
      return [];
    },
  };
  const notifier = new ChangeNotifier(publisher as never);
  return { notifier, sent, events: () => sent.flat().map((o) => o.event) };
}

export const TX = { tx: true } as never;

/** Runs the work with a marker manager, so tests can check calls were made inside the transaction. */
export function fakeUnitOfWork(): UnitOfWork {
  return { run: async <T>(work: (m: never) => Promise<T>) => work(TX) } as unknown as UnitOfWork;
}
