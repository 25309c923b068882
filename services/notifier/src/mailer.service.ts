import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { createTransport, Transporter } from 'nodemailer';
import { APP_CONFIG } from '@model-persistence/config';
import { NotifierSettings } from './config';

export interface OutgoingEmail {
  to: string[];
  subject: string;
  text: string;
  html: string;
  /** Stable per notification, so a re-send after a crash carries the same Message-ID. */
  messageId: string;
}

/** SMTP delivery through nodemailer. Resolves once the server accepted the message. */
@Injectable()
export class MailerService implements OnApplicationShutdown {
  private readonly transport: Transporter;

  constructor(@Inject(APP_CONFIG) private readonly settings: NotifierSettings) {
    const { smtp } = settings;
    this.transport = createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      auth: smtp.auth,
      connectionTimeout: smtp.timeoutMs,
      greetingTimeout: smtp.timeoutMs,
      socketTimeout: smtp.timeoutMs,
    });
  }

  async send(email: OutgoingEmail): Promise<string | null> {
    const info = (await this.transport.sendMail({
      from: this.settings.mail.from,
      to: email.to,
      subject: email.subject,
      text: email.text,
      html: email.html,
      messageId: email.messageId,
    })) as { messageId?: string };
    return info.messageId ?? null;
  }

  onApplicationShutdown(): void {
    this.transport.close();
  }
}
