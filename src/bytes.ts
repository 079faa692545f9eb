const KIB = 1024
const MIB = 1024 ** 2
const GIB = 1024 ** 3

/**
 * A size as every message prints it: binary units, GiB with one decimal, MiB and KiB whole and
 * rounded down (so a limit of 1 MiB - 1 reads 1023 KiB, never "1024 KiB").
 */
export function formatBytes(bytes: number): string {
  if (bytes >= GIB) return `${(bytes / GIB).toFixed(1)} GiB`
  if (bytes >= MIB) return `${Math.floor(bytes / MIB)} MiB`
  if (bytes >= KIB) return `${Math.floor(bytes / KIB)} KiB`
  return `${bytes} B`
}
