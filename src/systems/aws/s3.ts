import type {S3Client} from '@aws-sdk/client-s3'

import {AwsError} from '../../errors.js'
import type {AwsClients} from './clients.js'
import {errorName} from './errors.js'
import {endpointFor} from './settings.js'
import {s3Module} from './sdk.js'

/** The most of a build's result mldeploy reads back (a push result is a few KB). */
export const MAX_RESULT_BYTES = 5 * 1024 * 1024

/**
 * The bucket that carries source packages to CodeBuild and results back (`--builder codebuild`).
 * The SDK module is loaded on first use only.
 */
export class SourceBucket {
  private client?: Promise<S3Client>

  constructor(
    private readonly aws: AwsClients,
    readonly bucket: string,
  ) {}

  private s3(): Promise<S3Client> {
    this.client ??= s3Module().then(({S3Client}) =>
      this.aws.serviceClient('s3', (config) => {
        // An endpoint override (moto, MinIO, a VPC endpoint URL) takes path-style addressing.
        const custom = endpointFor(this.aws.settings, 's3') !== undefined
        return new S3Client({...config, ...(custom ? {forcePathStyle: true} : {})})
      }),
    )
    return this.client
  }

  /** Whether the object is there (HeadObject): a content-addressed key present means the same bytes. */
  async has(key: string, signal?: AbortSignal): Promise<boolean> {
    const {HeadObjectCommand} = await s3Module()
    const client = await this.s3()
    try {
      await client.send(new HeadObjectCommand({Bucket: this.bucket, Key: key}), this.aws.callOptions(signal))
      return true
    } catch (error) {
      if (errorName(error) === 'NotFound' || errorName(error) === 'NoSuchKey') return false
      throw this.aws.failure(error, 's3:HeadObject', `Checking s3://${this.bucket}/${key}`)
    }
  }

  /** Upload with its SHA-256 checked by S3 on arrival. */
  async put(key: string, body: Buffer, sha256Hex: string, signal?: AbortSignal): Promise<void> {
    const {PutObjectCommand} = await s3Module()
    const client = await this.s3()
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: key.endsWith('.zip') ? 'application/zip' : 'text/plain',
          ChecksumSHA256: Buffer.from(sha256Hex, 'hex').toString('base64'),
        }),
        this.aws.callOptions(signal),
      )
    } catch (error) {
      throw this.aws.failure(error, 's3:PutObject', `Uploading s3://${this.bucket}/${key}`)
    }
  }

  /** An object's text; undefined when it is not there. */
  async text(key: string, signal?: AbortSignal): Promise<string | undefined> {
    const {GetObjectCommand} = await s3Module()
    const client = await this.s3()
    try {
      const out = await client.send(
        new GetObjectCommand({Bucket: this.bucket, Key: key}),
        this.aws.callOptions(signal),
      )
      if ((out.ContentLength ?? 0) > MAX_RESULT_BYTES)
        throw new AwsError(
          'malformed',
          's3:GetObject',
          `s3://${this.bucket}/${key} is larger than a result can be.`,
        )
      return (await out.Body?.transformToString('utf8')) ?? ''
    } catch (error) {
      if (errorName(error) === 'NoSuchKey' || errorName(error) === 'NotFound') return undefined
      throw this.aws.failure(error, 's3:GetObject', `Reading s3://${this.bucket}/${key}`)
    }
  }

  /** Whether the bucket exists and may be used (HeadBucket). */
  async exists(signal?: AbortSignal): Promise<boolean> {
    const {HeadBucketCommand} = await s3Module()
    const client = await this.s3()
    try {
      await client.send(new HeadBucketCommand({Bucket: this.bucket}), this.aws.callOptions(signal))
      return true
    } catch (error) {
      if (errorName(error) === 'NotFound' || errorName(error) === 'NoSuchBucket') return false
      throw this.aws.failure(error, 's3:HeadBucket', `Checking bucket ${this.bucket}`)
    }
  }

  async create(signal?: AbortSignal): Promise<void> {
    const {CreateBucketCommand} = await s3Module()
    const client = await this.s3()
    const {region} = this.aws.settings
    try {
      await client.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          // us-east-1 is the one region that refuses a location constraint naming itself.
          ...(region === 'us-east-1'
            ? {}
            : {CreateBucketConfiguration: {LocationConstraint: region as never}}),
        }),
        this.aws.callOptions(signal),
      )
    } catch (error) {
      if (errorName(error) === 'BucketAlreadyOwnedByYou') return
      throw this.aws.failure(error, 's3:CreateBucket', `Creating bucket ${this.bucket}`)
    }
  }
}
