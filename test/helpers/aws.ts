import {CreateRepositoryCommand, ECRClient} from '@aws-sdk/client-ecr'

/** Environment that points the real AWS SDK (in mldeploy and here) at moto on loopback. */
export function motoEnv(motoUrl: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: motoUrl,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
  }
}

export async function createRepository(motoUrl: string, name: string, region = 'us-east-1'): Promise<void> {
  const client = new ECRClient({
    region,
    endpoint: motoUrl,
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
  })
  await client.send(new CreateRepositoryCommand({repositoryName: name}))
  client.destroy()
}
