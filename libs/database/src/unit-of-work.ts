import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';

/** Runs several repository calls in one app-database transaction (all or nothing). */
@Injectable()
export class UnitOfWork {
  constructor(private readonly ds: DataSource) {}

  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }
}
