/** Reads of the real registry's HTTP API (OCI distribution), as a check independent of mldeploy. */
const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ')

export interface Registry {
  host: string
  password: string
}

function auth(registry: Registry): string {
  return `Basic ${Buffer.from(`AWS:${registry.password}`).toString('base64')}`
}

export async function registryTags(registry: Registry, repository: string): Promise<string[]> {
  const response = await fetch(`http://${registry.host}/v2/${repository}/tags/list`, {
    headers: {authorization: auth(registry)},
  })
  if (response.status === 404) return []
  if (!response.ok) throw new Error(`tags/list ${repository}: HTTP ${response.status}`)
  const body = (await response.json()) as {tags: string[] | null}
  return (body.tags ?? []).sort()
}

export async function registryDigest(
  registry: Registry,
  repository: string,
  tag: string,
): Promise<string | undefined> {
  const response = await fetch(`http://${registry.host}/v2/${repository}/manifests/${tag}`, {
    method: 'HEAD',
    headers: {authorization: auth(registry), accept: ACCEPT},
  })
  if (response.status === 404) return undefined
  if (!response.ok) throw new Error(`manifest ${repository}:${tag}: HTTP ${response.status}`)
  return response.headers.get('docker-content-digest') ?? undefined
}

/** The manifest a tag or digest names, parsed (its config digest is the local engine's image ID). */
export async function registryManifest(
  registry: Registry,
  repository: string,
  reference: string,
): Promise<{config: {digest: string}; layers: Array<{digest: string; size: number}>}> {
  const response = await fetch(`http://${registry.host}/v2/${repository}/manifests/${reference}`, {
    headers: {authorization: auth(registry), accept: ACCEPT},
  })
  if (!response.ok) throw new Error(`manifest ${repository}:${reference}: HTTP ${response.status}`)
  return (await response.json()) as {config: {digest: string}; layers: Array<{digest: string; size: number}>}
}
