import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** Registered admins; active ones receive failure alerts besides the admin-email setting. */
@Entity({ name: 'admin_user' })
export class AdminUserEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'text' })
  email!: string;

  @Column({ type: 'text', nullable: true })
  name!: string | null;

  @Column({ type: 'boolean', default: true })
  active!: boolean;
}
