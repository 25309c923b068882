/** Inbox consumer name of the notifier (one per service, whatever the Kafka group is called). */
export const NOTIFIER_CONSUMER = 'notifier';
