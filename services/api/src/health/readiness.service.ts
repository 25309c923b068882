import { Inject, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode, errorMessage, TimeoutError } from '@model-persistence/errors';
import { KAFKA } from '@model-persistence/messaging';
import { Kafka } from 'kafkajs';
import { DataSource } from 'typeorm';

const CHECK_TIMEOUT_MS = 3000;

function withTimeout<T>(what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, CHECK_TIMEOUT_MS)), CHECK_TIMEOUT_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export interface Readiness {
  status: 'ok';
  checks: { database: 'ok'; kafka: 'ok' };
}

/** Readiness: the app database answers a query and the Kafka cluster answers a metadata request. */
@Injectable()
export class ReadinessService {
  constructor(
    private readonly ds: DataSource,
    @Inject(KAFKA) private readonly kafka: Kafka,
  ) {}

  async check(): Promise<Readiness> {
    const [db, kafka] = await Promise.allSettled([
      withTimeout('app database check', this.ds.query('select 1')),
      withTimeout('kafka check', this.kafkaCheck()),
    ]);
    if (db.status === 'rejected') {
      throw new DomainError(
        ErrorCode.AppDatabaseUnavailable,
        `App database not reachable: ${errorMessage(db.reason)}`,
      );
    }
    if (kafka.status === 'rejected') {
      throw new DomainError(
        ErrorCode.BrokerUnavailable,
        `Kafka not reachable: ${errorMessage(kafka.reason)}`,
      );
    }
    return { status: 'ok', checks: { database: 'ok', kafka: 'ok' } };
  }

  private async kafkaCheck(): Promise<void> {
    const admin = this.kafka.admin({ retry: { retries: 0 } });
    await admin.connect();
    try {
      await admin.describeCluster();
    } finally {
      await admin.disconnect();
    }
  }
}
