import { useEffect, useState } from 'preact/hooks';
import { api, CronPreview, qs } from './api';
import { errorText } from './components';

/**
 * A Quartz cron field with its meaning in words and the next five fire times in the schedule's time zone, as
 * the API computes them (the API also validates: an invalid expression shows the API's reason).
 */
export function CronEditor(props: {
  id: string;
  label: string;
  value: string;
  onInput: (v: string) => void;
  onValid?: (ok: boolean) => void;
}) {
  const [preview, setPreview] = useState<CronPreview | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const cron = props.value.trim();
    if (!cron) {
      setPreview(null);
      setError('Enter a Quartz cron expression, for example 0 0 0/6 * * ? *');
      props.onValid?.(false);
      return;
    }
    const t = setTimeout(() => {
      api<CronPreview>('GET', `/api/cron/next-fire-times${qs({ cron, count: 5 })}`).then(
        (p) => {
          setPreview(p);
          setError(null);
          props.onValid?.(true);
        },
        (e) => {
          setPreview(null);
          setError(errorText(e));
          props.onValid?.(false);
        },
      );
    }, 250);
    return () => clearTimeout(t);
  }, [props.value]);
  return (
    <div class="cron-editor">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        class="mono"
        value={props.value}
        spellcheck={false}
        autocomplete="off"
        aria-describedby={`${props.id}-help ${props.id}-preview`}
        aria-invalid={error ? 'true' : 'false'}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
      <p id={`${props.id}-help`} class="muted">
        Seven fields: second minute hour day-of-month month day-of-week year (year must be *; one of the two
        day fields must be ?).
      </p>
      <div id={`${props.id}-preview`} aria-live="polite">
        {error && (
          <p class="field-error" role="alert">
            {error}
          </p>
        )}
        {preview && (
          <>
            <p class="cron-words">{preview.description}</p>
            <p class="muted">Next five fire times ({preview.time_zone}):</p>
            <ol class="fire-times">
              {preview.next_fire_times_local.map((t) => (
                <li>{t}</li>
              ))}
            </ol>
          </>
        )}
      </div>
    </div>
  );
}
