/** A value together with where it came from, so a dry run can say why it is what it is. */
export interface Sourced<T> {
  value: T
  source: string
}
