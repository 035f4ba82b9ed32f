// Kubernetes' name rules, in one place (apimachinery's validation): checked label by label,
// so the work stays linear in the length of what a user wrote.

const LABEL = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;

/** A DNS-1123 label: a namespace name (at most 63 characters). */
export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && LABEL.test(s);
}

/** A DNS-1123 subdomain (at most 253 characters): the name of a Secret, a ConfigMap, a host. */
export function isDnsSubdomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every((label) => LABEL.test(label));
}
