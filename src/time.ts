// The one way annotary writes a time into an annotation, an Event or a message: RFC 3339 in UTC
// without fractional seconds, the form kubectl writes (`kubectl rollout restart`'s restartedAt).
export const rfc3339 = (t: number | string | Date): string => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
