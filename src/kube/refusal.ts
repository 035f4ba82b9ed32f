// A controller's answer to bad input: a reason (the Event reason and metric label) and a
// message for humans. Messages name objects and keys, never their contents.
export interface Refusal {
  refuse: true;
  reason: string;
  message: string;
}

export function refuse(reason: string, message: string): Refusal {
  return { refuse: true, reason, message };
}

export function isRefusal(x: unknown): x is Refusal {
  return typeof x === 'object' && x !== null && (x as Refusal).refuse === true;
}
