import {sha256Hex} from '../sha256.js'

/**
 * A zip archive whose bytes depend only on its entries: sorted by path, every entry dated
 * 1980-01-01 00:00 (the format's epoch) with mode 0644, deflate at a fixed level and no extra
 * fields. The same files give the same SHA-256, which is what makes the S3 key content-addressed.
 * Small on purpose (no zip64: a source package is far below 4 GiB), written from the format's
 * specification (PKWARE APPNOTE 4.3) rather than taking a dependency for ~60 lines.
 */
export interface ZipEntry {
  /** Forward slashes, relative, no `..`. */
  path: string
  data: Buffer
}

export interface Zip {
  bytes: Buffer
  sha256: string
  /** The entries in archive order, with their sizes. */
  listing: Array<{path: string; size: number}>
}

const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1
const DOS_TIME_MIDNIGHT = 0
const VERSION_NEEDED = 20
// Made by Unix (3), so the external attributes carry a Unix mode.
const VERSION_MADE_BY = (3 << 8) | 20
const REGULAR_FILE_0644 = (0o100644 << 16) >>> 0
const UTF8_NAMES = 1 << 11
const LIMIT = 0xffff_ffff

export function checkEntryPath(name: string): void {
  if (name === '' || name.startsWith('/') || name.includes('\\') || name.split('/').includes('..'))
    throw new Error(`Not a relative zip entry path: ${JSON.stringify(name)}`)
}

export function deterministicZip(entries: readonly ZipEntry[]): Zip {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  // node:zlib on first use, not with every command's start-up.
  const zlib = process.getBuiltinModule('node:zlib')
  for (const [index, entry] of sorted.entries()) {
    checkEntryPath(entry.path)
    if (index > 0 && sorted[index - 1]!.path === entry.path)
      throw new Error(`Duplicate zip entry ${entry.path}`)
    const name = Buffer.from(entry.path, 'utf8')
    const compressed = zlib.deflateRawSync(entry.data, {level: 9})
    const checksum = zlib.crc32(entry.data)
    if (entry.data.length >= LIMIT || offset >= LIMIT)
      throw new Error('The package is too large for a zip without zip64.')
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(VERSION_NEEDED, 4)
    local.writeUInt16LE(UTF8_NAMES, 6)
    local.writeUInt16LE(8, 8) // deflate
    local.writeUInt16LE(DOS_TIME_MIDNIGHT, 10)
    local.writeUInt16LE(DOS_DATE_1980_01_01, 12)
    local.writeUInt32LE(checksum, 14)
    local.writeUInt32LE(compressed.length, 18)
    local.writeUInt32LE(entry.data.length, 22)
    local.writeUInt16LE(name.length, 26)
    local.writeUInt16LE(0, 28)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE(VERSION_MADE_BY, 4)
    central.writeUInt16LE(VERSION_NEEDED, 6)
    central.writeUInt16LE(UTF8_NAMES, 8)
    central.writeUInt16LE(8, 10)
    central.writeUInt16LE(DOS_TIME_MIDNIGHT, 12)
    central.writeUInt16LE(DOS_DATE_1980_01_01, 14)
    central.writeUInt32LE(checksum, 16)
    central.writeUInt32LE(compressed.length, 20)
    central.writeUInt32LE(entry.data.length, 24)
    central.writeUInt16LE(name.length, 28)
    // extra, comment, disk number, internal attributes: 0
    central.writeUInt32LE(REGULAR_FILE_0644, 38)
    central.writeUInt32LE(offset, 42)
    locals.push(local, name, compressed)
    centrals.push(central, name)
    offset += local.length + name.length + compressed.length
  }
  const directory = Buffer.concat(centrals)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(sorted.length, 8)
  end.writeUInt16LE(sorted.length, 10)
  end.writeUInt32LE(directory.length, 12)
  end.writeUInt32LE(offset, 16)
  const bytes = Buffer.concat([...locals, directory, end])
  return {
    bytes,
    sha256: sha256Hex(bytes),
    listing: sorted.map((entry) => ({path: entry.path, size: entry.data.length})),
  }
}
