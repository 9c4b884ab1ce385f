/** Splits an SSE body into frames: { event?, data, comment? }. */
export interface SseFrame {
  event?: string;
  data?: string;
  comment?: string;
}

export function parseSse(body: string): SseFrame[] {
  const frames: SseFrame[] = [];
  for (const raw of body.split('\n\n')) {
    if (raw.trim() === '') continue;
    const frame: SseFrame = {};
    for (const line of raw.split('\n')) {
      if (line.startsWith(':')) frame.comment = line.slice(1).trim();
      else if (line.startsWith('event: ')) frame.event = line.slice(7);
      else if (line.startsWith('data: ')) frame.data = frame.data === undefined ? line.slice(6) : `${frame.data}\n${line.slice(6)}`;
    }
    frames.push(frame);
  }
  return frames;
}
